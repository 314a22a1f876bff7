"""Checkpoint growth: the bytes a support turn writes to its checkpointer, at turn 1, 10, 30, 60 and 200 of one
conversation, against a bare LangGraph graph of the same shape on the same checkpointer and durability.

Both graphs run on their own SQLite file (``AsyncSqliteSaver`` with the product's pragmas) with the product's
durability (``Settings().durability``); the support graph has the service's store (the transcripts' archive)
on its file, whose bytes are reported apart. After every turn the section reads what the thread holds: the bytes of
its checkpoint rows (checkpoint + metadata) and of its pending writes; the difference from the previous turn is
what that turn wrote. The conversation is the economy section's long script, cycled, on a policy whose turn
budget is raised past the last turn, so that every turn takes the bot's full path (no handoff ends it early).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.sqlite.aio import AsyncSqliteStore

from tactful.agents.context import TurnContext
from tactful.bench.arguments import positive_int
from tactful.bench.common import JSON, Section, Target, progress, section
from tactful.bench.economy import LONG_CONVERSATION, _policy_copy
from tactful.bench.markdown import table
from tactful.bench.overhead import bare_graph
from tactful.graphs.checkpoint import tune_sqlite_saver
from tactful.graphs.runner import SupportRunner
from tactful.graphs.sqlite_saver import OneTripSqliteStore
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings

TARGET_KB_PER_TURN = 15.0
AT_TURNS = (1, 10, 30, 60, 200)


@asynccontextmanager
async def _saver(path: Path, settings: Settings) -> AsyncIterator[AsyncSqliteSaver]:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        await tune_sqlite_saver(saver, settings)
        yield saver


@asynccontextmanager
async def _store(path: Path, settings: Settings) -> AsyncIterator[AsyncSqliteStore]:
    """The support graph's store on the checkpointer's file, as the service opens it."""
    async with OneTripSqliteStore.from_conn_string(str(path)) as store:
        await store.conn.execute(f"PRAGMA synchronous={settings.sqlite_synchronous.upper()}")
        await store.setup()
        yield store


def store_bytes(path: Path) -> int:
    """Bytes of the values a SQLite store file holds (the archive)."""
    with sqlite3.connect(path) as conn:
        (total,) = conn.execute("SELECT COALESCE(SUM(LENGTH(value) + LENGTH(key) + LENGTH(prefix)), 0) "
                                "FROM store").fetchone()
    return int(total)


def thread_bytes(path: Path, thread: str) -> tuple[int, int]:
    """(bytes, checkpoint rows) the thread holds in a SQLite checkpointer file."""
    with sqlite3.connect(path) as conn:
        cp, rows = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0), COUNT(*) FROM checkpoints "
            "WHERE thread_id = ?", (thread,)
        ).fetchone()
        (writes,) = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes WHERE thread_id = ?", (thread,)
        ).fetchone()
    return int(cp) + int(writes), int(rows)


def _fit(points: dict[int, float]) -> tuple[float, float]:
    """Least-squares ``a + b × turn`` over the measured points (KB)."""
    xs, ys = list(points), list(points.values())
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return round(my - b * mx, 2), round(b, 3)


async def measure(ctx: TurnContext, *, turns: int) -> JSON:
    """Bytes written per turn by the support graph and by the bare graph, at the turns of ``AT_TURNS`` that are
    within ``turns``, with the wall time per turn of both at those turns."""
    settings = ctx.settings
    durability = settings.durability
    at = [t for t in AT_TURNS if t <= turns] or [turns]
    support_kb: dict[int, float] = {}
    bare_kb: dict[int, float] = {}
    archive_kb: dict[int, float] = {}
    rows_per_turn: dict[int, int] = {}
    modes: dict[int, str] = {}
    support_ms: dict[int, float] = {}
    bare_ms: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as tmp:
        s_path, b_path = Path(tmp) / "support.db", Path(tmp) / "bare.db"
        async with (
            _saver(s_path, settings) as s_saver,
            _store(s_path, settings) as s_store,
            _saver(b_path, settings) as b_saver,
        ):
            runner = SupportRunner(compile_support_graph(s_saver, store=s_store), lambda tenant: ctx)
            bare = bare_graph().compile(checkpointer=b_saver)
            b_config: Any = {"configurable": {"thread_id": "bare"}}
            s_before = b_before = a_before = 0
            s_rows_before = 0
            for turn in range(1, turns + 1):
                text = LONG_CONVERSATION[(turn - 1) % len(LONG_CONVERSATION)]
                t0 = time.perf_counter()
                result = await runner.turn("growth", text)
                t1 = time.perf_counter()
                msg = {"role": "user", "text": text, "turn": 0, "at": ""}
                await bare.ainvoke({"messages": [msg]}, b_config, durability=durability)
                t2 = time.perf_counter()
                s_now, s_rows = thread_bytes(s_path, "default:growth")
                b_now, _ = thread_bytes(b_path, "bare")
                a_now = store_bytes(s_path)
                if turn in at:
                    archive_kb[turn] = round((a_now - a_before) / 1024, 2)
                    support_kb[turn] = round((s_now - s_before) / 1024, 2)
                    bare_kb[turn] = round((b_now - b_before) / 1024, 2)
                    rows_per_turn[turn] = s_rows - s_rows_before
                    modes[turn] = f"{result.mode}/{result.action}"
                    support_ms[turn] = round((t1 - t0) * 1000, 2)
                    bare_ms[turn] = round((t2 - t1) * 1000, 2)
                    progress(f"growth: turn {turn}: support {support_kb[turn]} KB, bare {bare_kb[turn]} KB")
                s_before, b_before, a_before, s_rows_before = s_now, b_now, a_now, s_rows
            total_support, _ = thread_bytes(s_path, "default:growth")
            total_bare, _ = thread_bytes(b_path, "bare")
            total_archive = store_bytes(s_path)
    base, slope = _fit(support_kb) if len(support_kb) > 1 else (next(iter(support_kb.values())), 0.0)
    bare_base, bare_slope = _fit(bare_kb) if len(bare_kb) > 1 else (next(iter(bare_kb.values())), 0.0)
    return {
        "checkpointer": "AsyncSqliteSaver (file)",
        "durability": durability,
        "turns": turns,
        "support_kb_per_turn": {str(k): v for k, v in support_kb.items()},
        "bare_kb_per_turn": {str(k): v for k, v in bare_kb.items()},
        "archive_kb_per_turn": {str(k): v for k, v in archive_kb.items()},
        "archive_total_mb": round(total_archive / 1024 / 1024, 3),
        "support_checkpoints_per_turn": {str(k): v for k, v in rows_per_turn.items()},
        "support_outcome_at_turn": {str(k): v for k, v in modes.items()},
        "support_turn_ms": {str(k): v for k, v in support_ms.items()},
        "bare_turn_ms": {str(k): v for k, v in bare_ms.items()},
        "support_fit_kb": {"base": base, "per_turn_number": slope},
        "bare_fit_kb": {"base": bare_base, "per_turn_number": bare_slope},
        "support_total_mb": round(total_support / 1024 / 1024, 3),
        "bare_total_mb": round(total_bare / 1024 / 1024, 3),
        "max_support_kb_per_turn": max(support_kb.values()),
    }


def bench(*, quick: bool, turns: int | None = None) -> JSON:
    """The ``growth`` section: one conversation of 200 turns (60 with ``--quick``)."""
    from tactful.graphs.context import build_context

    started = time.perf_counter()
    turns = turns or (60 if quick else max(AT_TURNS))
    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as tmp:
        policies = _policy_copy(Path(tmp), "long", turn_budget=turns + 1)
        ctx = build_context(Settings(engine="offline", policy_dir=policies), cache=False)
        data = asyncio.run(measure(ctx, turns=turns))
    note = None if turns >= max(AT_TURNS) else f"{turns} turns (a full run goes to turn {max(AT_TURNS)})"
    targets = [Target("max_support_kb_per_turn", data["max_support_kb_per_turn"], TARGET_KB_PER_TURN, "max",
                      unit="KB", note=note)]
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    turns = list(sec["support_kb_per_turn"])
    lines = [f"Checkpoint bytes written per turn (KB), durability `{sec['durability']}`, {sec['checkpointer']}:", ""]
    lines += table(
        ["turn", *turns],
        [
            ["support", *sec["support_kb_per_turn"].values()],
            ["bare LangGraph", *sec["bare_kb_per_turn"].values()],
            ["support: archive (store)", *sec.get("archive_kb_per_turn", {}).values()],
            ["support checkpoints", *sec["support_checkpoints_per_turn"].values()],
        ],
    )
    fit, bare = sec["support_fit_kb"], sec["bare_fit_kb"]
    lines += [
        f"Fit: support {fit['base']} KB + {fit['per_turn_number']} KB × turn number; bare {bare['base']} KB + "
        f"{bare['per_turn_number']} KB × turn number. Whole conversation: support {sec['support_total_mb']} MB, "
        f"bare {sec['bare_total_mb']} MB.",
        "",
    ]
    return lines


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--growth-turns", type=positive_int, default=None, metavar="N",
                       help="turns of the measured conversation (default 200; 60 with --quick)")


SECTION = Section(
    name="growth",
    title="Checkpoint growth",
    summary="checkpoint bytes a support turn writes at turn 1, 10, 30, 60 and 200 against a bare graph",
    run=lambda args: bench(quick=args.quick, turns=args.growth_turns),
    render=render,
    options=options,
)
