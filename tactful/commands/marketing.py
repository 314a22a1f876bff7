"""``tactful marketing batch IN.jsonl OUT.jsonl``: one marketing decision per input line.

Each OUT line is one JSON decision with the input's ``line`` number and ``request_id``. Runs are resumable:
lines already in OUT (by request id, or by line number for requests without one) are skipped, and a last line
cut off by an interrupted run is dropped and redone. A bad input line is reported on stderr with its line
number and skipped; the batch goes on. Concurrency is bounded (``--concurrency``); a progress bar shows on
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tactful.agents.marketing.models import MarketingDecision, MarketingRequest
from tactful.errors import InputError
from tactful.graphs.marketing_service import MarketingService
from tactful.settings import load_settings

FLUSH_EVERY = 256


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("marketing", help="the marketing message generator")
    sub = p.add_subparsers(dest="marketing_command", metavar="SUBCOMMAND", required=True)
    b = sub.add_parser("batch", help="decide send / suppress / route_to_rep for every line of a JSONL file")
    b.add_argument("input", type=Path, metavar="IN.jsonl", help="one marketing request (JSON) per line")
    b.add_argument(
        "output", type=Path, metavar="OUT.jsonl", help="decisions are appended here; reruns resume"
    )
    b.add_argument("--concurrency", type=_positive, default=8, help="decisions in flight at once (default 8)")
    b.add_argument("--tenant", default="default", help="tenant whose policy applies (default: default)")
    b.add_argument("--engine", choices=["offline", "openai", "scripted"], default=None)
    b.add_argument(
        "--graph", action="store_true", help="run every decision through the compiled LangGraph graph"
    )
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument(
        "--strict", action="store_true", help="exit 1 when any input line was bad (default: report, go on)"
    )
    b.set_defaults(func=run_batch)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


# --------------------------------------------------------------------------- resume


@dataclass
class Done:
    ids: set[str] = field(default_factory=set)
    lines: set[int] = field(default_factory=set)
    repaired: bool = False


def read_done(path: Path) -> Done:
    """What an earlier run already wrote to ``path``; a partial last line (interrupted write) is cut off."""
    done = Done()
    if not path.exists():
        return done
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    keep = len(data)
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        done.repaired = True
    for raw in data[:keep].splitlines():
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if isinstance(row, dict):
            if isinstance(row.get("request_id"), str):
                done.ids.add(row["request_id"])
            if isinstance(row.get("line"), int):
                done.lines.add(row["line"])
    if done.repaired:
        with path.open("r+b") as fh:
            fh.truncate(keep)
    return done


def is_done(done: Done, lineno: int, request: MarketingRequest) -> bool:
    if request.request_id is not None:
        return request.request_id in done.ids
    return lineno in done.lines


# --------------------------------------------------------------------------- the run


@dataclass
class Tally:
    written: int = 0
    skipped: int = 0
    bad: int = 0
    failed: int = 0
    actions: dict[str, int] = field(default_factory=dict)


class Ticker:
    """Advances the progress bar in steps (one lock round-trip per step, not per line)."""

    STEP = 64

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.task_id = progress.add_task("deciding", total=total) if progress is not None else None
        self.pending = 0

    def tick(self) -> None:
        self.pending += 1
        if self.pending >= self.STEP:
            self.flush()

    def flush(self) -> None:
        if self.progress is not None and self.task_id is not None and self.pending:
            self.progress.advance(self.task_id, self.pending)
        self.pending = 0


def _problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "line"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {err['msg']}{more}"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        yield from enumerate(fh, start=1)


def out_line(lineno: int, decision: MarketingDecision) -> str:
    return '{"line":%d,%s\n' % (lineno, decision.model_dump_json()[1:])  # noqa: UP031 - splicing JSON


async def _run(
    args: argparse.Namespace, service: MarketingService, done: Done, total: int, progress: Progress | None
) -> Tally:
    tally = Tally()
    queue: asyncio.Queue[tuple[int, MarketingRequest] | None] = asyncio.Queue(maxsize=args.concurrency * 4)
    err = sys.stderr
    ticker = Ticker(progress, total)

    async def worker(out: TextIO) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            lineno, request = item
            try:
                decision = await service.decide(request, tenant=args.tenant)
            except Exception as exc:  # one broken decision never stops the batch
                tally.failed += 1
                print(f"{args.input}:{lineno}: could not decide: {type(exc).__name__}: {exc}", file=err)
            else:
                out.write(out_line(lineno, decision))
                tally.written += 1
                tally.actions[decision.action] = tally.actions.get(decision.action, 0) + 1
                if tally.written % FLUSH_EVERY == 0:
                    out.flush()
            ticker.tick()

    with args.output.open("a", encoding="utf-8") as out:
        workers = [asyncio.create_task(worker(out)) for _ in range(args.concurrency)]
        try:
            for lineno, raw in _lines(args.input):
                text = raw.strip()
                if not text:
                    ticker.tick()
                    continue
                try:
                    request = MarketingRequest.model_validate_json(text)
                except ValidationError as exc:
                    tally.bad += 1
                    print(f"{args.input}:{lineno}: {_problem(exc)}", file=err)
                    ticker.tick()
                    continue
                if is_done(done, lineno, request):
                    tally.skipped += 1
                    ticker.tick()
                    continue
                await queue.put((lineno, request))
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
            ticker.flush()
        finally:
            for task in workers:
                task.cancel()
            out.flush()
    return tally


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def run_batch(args: argparse.Namespace) -> int:
    if not args.input.is_file():
        raise InputError(f"input file not found: {args.input}")
    if args.output.resolve() == args.input.resolve():
        raise InputError("OUT must be a different file from IN")
    settings = load_settings(engine=args.engine) if args.engine else load_settings()
    service = MarketingService(settings, via_graph=args.graph)
    service.context_for(args.tenant)  # a bad tenant or policy fails before any work
    try:
        args.output.open("a", encoding="utf-8").close()
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    done = read_done(args.output)
    console = Console(stderr=True)
    if done.repaired:
        console.print(f"[yellow]{args.output}: dropped a partial last line from an interrupted run[/]")
    total = _count_lines(args.input)
    started, cpu_started = time.perf_counter(), time.process_time()
    if args.no_progress:
        tally = asyncio.run(_run(args, service, done, total, None))
    else:
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            tally = asyncio.run(_run(args, service, done, total, progress))
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    summary = {
        "written": tally.written,
        "skipped_done": tally.skipped,
        "bad_lines": tally.bad,
        "failed": tally.failed,
        "actions": tally.actions,
        "seconds": round(seconds, 3),
        "per_second": round(tally.written / seconds, 1) if seconds > 0 else None,
        "cpu_seconds": round(cpu_seconds, 3),
    }
    print(json.dumps(summary))
    return 1 if tally.failed or (args.strict and tally.bad) else 0
