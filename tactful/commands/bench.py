"""``tactful bench``: the benchmarks — one JSON object on stdout, progress on stderr.

The sections are listed in ``tactful.bench.sections`` (``--only`` picks some, comma-separated): ``overhead`` (an offline
support turn against a bare LangGraph graph of the same shape), ``economy`` (model calls and prompt tokens per turn
against the local fake model, beside one call per specialist), ``load`` (concurrent conversations through a real
``tactful serve`` worker, SQLite and — with ``DATABASE_URL`` — PostgreSQL), ``burst`` (many messages at once to one
conversation), ``eventloop`` (``/healthz`` while one CPU-heavy turn runs), ``evalspeed`` (eval scenarios per second on
the offline engine), ``classifier`` (fit time, latency and accuracy on the development data sets). Each section adds its
own options. Every section reports its targets, ``met`` and, when missed, ``missed_by``. ``--quick`` runs small versions
of all of them in about a minute. Exit code 0, or 1 when a section failed to run (a missed target is a result, not a
failure); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

from tactful.errors import InputError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from tactful.bench.sections import SECTIONS

    p = subparsers.add_parser("bench", help="run the benchmarks; one JSON object on stdout")
    p.add_argument("--quick", action="store_true", help="small versions of every section (about a minute)")
    p.add_argument("--only", default=None, metavar="LIST",
                   help=f"comma-separated sections to run (default: all): {','.join(_names())}")
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="also write the JSON to FILE")
    p.add_argument("--markdown", type=Path, default=None, metavar="PATH", help="write a markdown summary to PATH")
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="PostgreSQL for the sections that drive a worker (default: $DATABASE_URL; unset: "
                        "PostgreSQL is skipped)")
    p.add_argument("--no-profile", action="store_true", help="skip the profiles (py-spy of the server, cProfile)")
    for sec in SECTIONS:
        if sec.options is not None:
            sec.options(p.add_argument_group(f"{sec.name}: {sec.summary}"))
    # every option but --database-url (shown with its password hidden), as the command line records them
    shown = tuple((a.option_strings[0], a.dest, a.default) for a in p._actions
                  if a.option_strings and a.dest not in ("help", "database_url"))
    p.set_defaults(func=run, shown_options=shown)


def _names() -> list[str]:
    from tactful.bench.sections import SECTIONS

    return [s.name for s in SECTIONS]


def parse_only(value: str | None) -> list[str]:
    """The sections to run, in their fixed order; :class:`InputError` naming an unknown one."""
    known = _names()
    if value is None:
        return known
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise InputError(f"--only needs at least one section: {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"--only: unknown section {unknown[0]!r}; choose from {', '.join(known)}")
    return [s for s in known if s in names]


def _check_writable(path: Path | None, option: str) -> None:
    if path is None:
        return
    if path.exists() and path.is_dir():
        raise InputError(f"{option} {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is not a directory")


def _shown(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def command_line(args: argparse.Namespace) -> str:
    """The command as given (every option not at its default, in the parser's order; the database URL's
    password hidden)."""
    words = ["tactful", "bench"]
    for option, dest, default in args.shown_options:
        value = getattr(args, dest)
        if value is None or value == default:
            continue
        words += [option] if value is True else [option, _shown(value)]
    line = shlex.join(words)
    url = args.database_url
    if url:
        shown = shlex.quote(_hide_password(url))
        line = f"{line} --database-url {shown}" if args.database_url_given else f"DATABASE_URL={shown} {line}"
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


def run(args: argparse.Namespace) -> int:
    only = parse_only(args.only)
    args.database_url_given = args.database_url is not None
    args.database_url = args.database_url or os.environ.get("DATABASE_URL") or os.environ.get("TACTFUL_DATABASE_URL")
    _check_writable(args.out, "--out")
    _check_writable(args.markdown, "--markdown")

    from tactful.bench import common, report
    from tactful.bench.sections import BY_NAME

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
    for name in only:
        common.progress(f"[{name}] starting")
        t0 = time.perf_counter()
        try:
            result["sections"][name] = BY_NAME[name].run(args)
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
