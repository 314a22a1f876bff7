"""``tactful bench``: the benchmarks — one JSON object on stdout, progress on stderr.

Sections (``--only`` picks some, comma-separated): ``overhead`` (an offline support turn against a bare LangGraph
graph of the same shape), ``economy`` (model calls and prompt tokens per turn against the local fake model),
``load`` (concurrent conversations through a real ``tactful serve`` worker, SQLite and — with ``DATABASE_URL`` —
PostgreSQL), ``evalspeed`` (eval scenarios per second on the offline engine), ``classifier`` (fit time, latency
and accuracy on the development data sets). Every section reports its targets, ``met`` and, when missed,
``missed_by``. ``--quick`` runs small versions of all of them in under a minute. Exit code 0, or 1 when a section
failed to run (a missed target is a result, not a failure); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tactful.errors import InputError

SECTIONS = ("overhead", "economy", "load", "evalspeed", "classifier")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("bench", help="run the benchmarks; one JSON object on stdout")
    p.add_argument("--quick", action="store_true", help="small versions of every section (under a minute)")
    p.add_argument("--only", default=None, metavar="LIST",
                   help=f"comma-separated sections to run (default: all): {','.join(SECTIONS)}")
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="also write the JSON to FILE")
    p.add_argument("--markdown", type=Path, default=None, metavar="PATH", help="write a markdown summary to PATH")
    p.add_argument("--datasets", type=Path, default=None, metavar="DIR",
                   help="development data sets (default: $TACTFUL_DATASETS, else ../shared/datasets next to the "
                        "repository)")
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="PostgreSQL for the load section (default: $DATABASE_URL; unset: PostgreSQL is skipped)")
    p.add_argument("--turns", type=_positive_int, default=None, metavar="N",
                   help="overhead: turns of each graph (default 1000; 100 with --quick)")
    p.add_argument("--load-steps", type=_steps, default=None, metavar="LIST",
                   help="load: concurrent conversations per step (default 50,200,500; 4,16 with --quick)")
    p.add_argument("--load-duration", type=_positive_float, default=None, metavar="S",
                   help="load: seconds per step (default 15; 2 with --quick)")
    p.add_argument("--model-latency-ms", type=_non_negative_float, default=300.0, metavar="MS",
                   help="load: how long the fake model takes to answer (default 300)")
    p.add_argument("--no-profile", action="store_true", help="skip the profiles (py-spy of the server, cProfile)")
    p.set_defaults(func=run)


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from exc
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def _positive_float(value: str) -> float:
    x = _non_negative_float(value)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return x


def _non_negative_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from exc
    if not x >= 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of 0 or more, not {value}")
    return x


def _steps(value: str) -> tuple[int, ...]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one step, e.g. 50,200,500")
    steps = tuple(_positive_int(p) for p in parts)
    if max(steps) > 5000:
        raise argparse.ArgumentTypeError("at most 5000 concurrent conversations per step")
    return steps


def parse_only(value: str | None) -> list[str]:
    """The sections to run, in their fixed order; :class:`InputError` naming an unknown one."""
    if value is None:
        return list(SECTIONS)
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise InputError(f"--only needs at least one section: {', '.join(SECTIONS)}")
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise InputError(f"--only: unknown section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    return [s for s in SECTIONS if s in names]


def _check_writable(path: Path | None, option: str) -> None:
    if path is None:
        return
    if path.exists() and path.is_dir():
        raise InputError(f"{option} {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is not a directory")


def command_line(args: argparse.Namespace) -> str:
    """The command as given (options in a fixed order; the database URL's password hidden)."""
    words = ["tactful", "bench"]
    if args.quick:
        words.append("--quick")
    for option, value in (("--only", args.only), ("--turns", args.turns), ("--load-duration", args.load_duration),
                          ("--datasets", args.datasets), ("--out", args.out), ("--markdown", args.markdown)):
        if value is not None:
            words += [option, str(value)]
    if args.load_steps:
        words += ["--load-steps", ",".join(map(str, args.load_steps))]
    if args.model_latency_ms != 300.0:
        words += ["--model-latency-ms", f"{args.model_latency_ms:g}"]
    if args.no_profile:
        words.append("--no-profile")
    url = args.database_url or os.environ.get("DATABASE_URL") or os.environ.get("TACTFUL_DATABASE_URL")
    line = shlex.join(words)
    if url:
        source = "--database-url" if args.database_url else "DATABASE_URL"
        shown = _hide_password(url)
        line = f"{line} --database-url {shlex.quote(shown)}" if source == "--database-url" else \
            f"DATABASE_URL={shlex.quote(shown)} {line}"
    return line


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _runners(args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    from tactful.bench import classifier, economy, evalspeed, load, overhead

    database_url = args.database_url or os.environ.get("DATABASE_URL") or os.environ.get("TACTFUL_DATABASE_URL")
    profile = not args.no_profile
    return {
        "overhead": lambda: overhead.bench(quick=args.quick, turns=args.turns),
        "economy": lambda: economy.bench(quick=args.quick),
        "load": lambda: load.bench(quick=args.quick, steps=args.load_steps, duration_s=args.load_duration,
                                   model_latency_ms=args.model_latency_ms, database_url=database_url,
                                   profile_s=None if profile else 0.0),
        "evalspeed": lambda: evalspeed.bench(quick=args.quick, with_profile=None if profile else False),
        "classifier": lambda: classifier.bench(quick=args.quick, datasets=args.datasets),
    }


def run(args: argparse.Namespace) -> int:
    only = parse_only(args.only)
    _check_writable(args.out, "--out")
    _check_writable(args.markdown, "--markdown")

    from tactful.bench import common, report

    started_at, started = common.utc_now(), time.perf_counter()
    result: dict[str, Any] = {
        "bench": "tactful",
        "schema_version": 1,
        "mode": "quick" if args.quick else "full",
        "command": command_line(args),
        "started_at": started_at,
        "machine": common.machine(),
        "sections": {},
    }
    runners = _runners(args)
    for name in only:
        common.progress(f"[{name}] starting")
        t0 = time.perf_counter()
        try:
            result["sections"][name] = runners[name]()
        except Exception as exc:  # one broken section must not lose the others' figures
            result["sections"][name] = common.failed(exc, wall_s=time.perf_counter() - t0)
            common.progress(f"[{name}] failed: {type(exc).__name__}: {exc}")
            continue
        sec = result["sections"][name]
        status = sec.get("skipped") or ("targets met" if sec.get("met") else
                                        "missed: " + ", ".join(sec.get("missed_by", {})))
        common.progress(f"[{name}] done in {time.perf_counter() - t0:.1f} s — {status}")
    result["finished_at"] = common.utc_now()
    result["wall_s"] = round(time.perf_counter() - started, 2)
    result["summary"] = _summary(result["sections"])
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.markdown:
        report.write(result, args.markdown)
    print(text)
    return 1 if result["summary"]["errors"] else 0


def _summary(sections: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"met": [], "missed": [], "skipped": [], "errors": [], "targets_missed": {}}
    for name, sec in sections.items():
        status = sec.get("status")
        if status == "skipped":
            out["skipped"].append(name)
        elif status == "error":
            out["errors"].append(name)
        elif sec.get("met"):
            out["met"].append(name)
        else:
            out["missed"].append(name)
            for t, by in sec.get("missed_by", {}).items():
                out["targets_missed"][f"{name}.{t}"] = by
    return out
