"""Summaries of sampled profiles: py-spy's raw (collapsed-stack) output of another process, and cProfile stats
of this one — what dominates, by function and by package."""

from __future__ import annotations

import pstats
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from tactful.bench.common import JSON

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
# frames of these files belong to the package named after the first path component of the rest
_SITE_MARKERS = ("site-packages/", "dist-packages/", "/lib/python3.")


def package_of(path: str) -> str:
    """``langgraph`` for ``.../site-packages/langgraph/pregel/main.py``, ``agents`` for ``agents/intent/node.py``,
    ``asyncio`` for the standard library's ``asyncio/events.py``."""
    rest = path.replace("\\", "/")
    for marker in _SITE_MARKERS:
        if marker in rest:
            rest = rest.split(marker, 1)[1]
            if marker.startswith("/lib/python3."):
                rest = rest.split("/", 1)[1] if "/" in rest else rest
            break
    rest = rest.lstrip("./")
    head = rest.split("/", 1)[0]
    if head.endswith(".py"):
        head = head[:-3]
    return head or "?"


# Where a sample's time goes: walking from the leaf towards the root, the first frame whose file matches a rule
# names the component; frames of other libraries (pydantic, numpy, sklearn, asyncio, anyio, database drivers, ...)
# count for whoever called them. A stack with no match is event-loop and interpreter work.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("token counting (tiktoken)", ("tiktoken/", "agents/engine/tokens.py")),
    ("model HTTP client (openai SDK, httpx)", ("openai/", "httpx/", "httpx2/", "httpcore/", "h11/")),
    ("checkpointer (langgraph.checkpoint)", ("langgraph/checkpoint/", "graphs/checkpoint.py")),
    ("specialists (agents/)", ("agents/",)),
    ("graph glue (graphs/)", ("graphs/",)),
    ("LangGraph runtime", ("langgraph/", "langchain_core/")),
    ("service (tactful/service)", ("tactful/service/",)),
    ("HTTP server (uvicorn, FastAPI, Starlette)", ("uvicorn/", "fastapi/", "starlette/", "httptools/")),
)
DB_DRIVERS = ("aiosqlite/", "sqlite3/", "psycopg/", "psycopg_pool/")


def component_of(files: list[str]) -> str:
    """The component of one sample, from its frames' files (root first, leaf last). A sample whose innermost
    Python frame is the event loop's runner is native event-loop work (uvloop: sockets, callbacks)."""
    if files and files[-1].replace("\\", "/").endswith("asyncio/runners.py"):
        return "event loop and other"
    for file in reversed(files):
        path = file.replace("\\", "/")
        for name, markers in COMPONENTS:
            if any(m in path for m in markers):
                return name
    if any(d in f for f in files for d in DB_DRIVERS):
        return "database driver threads"
    return "event loop and other"


def _parse_frame(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), "?"
    return match["func"], match["file"]


def collapsed_summary(text: str, *, top: int = 15) -> JSON:
    """Share of samples by leaf function (self), by the leaf's package (self) and by package anywhere on the
    stack (inclusive), from py-spy ``--format raw`` output (``frame;frame;... count`` per line)."""
    self_fn: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    incl_pkg: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    components: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames and frames[0].startswith(("thread (", "process ")):
            threads[frames[0].split(":", 1)[-1].strip() or frames[0]] += count
            frames = frames[1:]
        if not frames:
            continue
        total += count
        parsed = [_parse_frame(f) for f in frames]
        func, file = parsed[-1]
        components[component_of([f for _, f in parsed])] += count
        self_fn[f"{func} ({_short(file)})"] += count
        self_pkg[package_of(_short(file))] += count
        for pkg in {package_of(_short(f)) for _, f in parsed}:
            incl_pkg[pkg] += count

    def shares(counter: Counter[str]) -> list[JSON]:
        return [{"name": k, "share": round(v / total, 3)} for k, v in counter.most_common(top)] if total else []

    return {
        "samples": total,
        "threads": {k: round(v / total, 3) for k, v in threads.most_common(6)} if total else {},
        "by_component": shares(components),
        "self_by_function": shares(self_fn),
        "self_by_package": shares(self_pkg),
        "inclusive_by_package": shares(incl_pkg),
    }


def py_spy() -> str | None:
    return shutil.which("py-spy")


def record(pid: int, *, seconds: float, out: Path, rate: int = 67) -> subprocess.Popen[bytes] | None:
    """Start ``py-spy record`` on ``pid`` for ``seconds`` (raw collapsed stacks to ``out``); ``None`` when
    py-spy is not installed."""
    exe = py_spy()
    if exe is None:
        return None
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(rate),
         "--format", "raw", "--threads", "--gil", "--full-filenames", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes] | None, out: Path, *, timeout: float = 60) -> JSON:
    if proc is None:
        return {"status": "skipped", "reason": "py-spy is not installed (pip install py-spy)"}
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if not out.exists():
        tail = (err or b"").decode(errors="replace").strip().splitlines()
        return {"status": "error", "reason": tail[0] if tail else f"py-spy exited with {proc.returncode}"}
    return {"status": "ok", "tool": "py-spy record --gil (samples of the thread holding the GIL)",
            **collapsed_summary(out.read_text(encoding="utf-8", errors="replace"))}


def cprofile_summary(stats: pstats.Stats, *, top: int = 15) -> JSON:
    """Own time by function and by package, and cumulative time of the heaviest functions, from cProfile.
    Time in built-in functions (C code: ``isinstance``, ``re`` matching, ...) counts for the package of the
    Python function that called them."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in raw.values()) or 1.0
    by_pkg: Counter[str] = Counter()
    own: list[tuple[float, str]] = []
    cumulative: list[tuple[float, str]] = []
    for (file, line, func), (_, _, tt, ct, callers) in raw.items():
        name = f"{func} ({_short(file)}:{line})" if file != "~" else func
        if file == "~" and callers:
            caller_tt = sum(v[2] for v in callers.values()) or 1.0
            for (c_file, _, _), v in callers.items():
                by_pkg[package_of(_short(c_file)) if c_file != "~" else "builtins"] += tt * v[2] / caller_tt
        else:
            by_pkg[package_of(_short(file)) if file != "~" else "builtins"] += tt
        own.append((tt, name))
        cumulative.append((ct, name))
    own.sort(reverse=True)
    cumulative.sort(reverse=True)
    return {
        "profiled_s": round(total, 3),
        "own_by_package": [{"name": k, "share": round(v / total, 3)} for k, v in by_pkg.most_common(top)],
        "own_by_function": [{"name": n, "share": round(t / total, 3)} for t, n in own[:top]],
        "cumulative_by_function": [{"name": n, "share": round(t / total, 3)} for t, n in cumulative[:top]
                                   if t / total < 0.999],
    }


def _short(file: str) -> str:
    """A path from the package root (``langgraph/pregel/main.py``), for files of installed packages and of this
    repository."""
    from tactful.resources import package_path

    text = file.replace("\\", "/")
    root = str(package_path().parent).replace("\\", "/") + "/"
    if text.startswith(root):
        return text[len(root):]
    for marker in _SITE_MARKERS:
        if marker in text:
            rest = text.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker.startswith("/lib/python3.") and "/" in rest else rest
    return text
