"""The durability setting decides how many checkpoints a turn writes: every step (sync, async) or only the end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tactful.graphs.checkpoint import open_checkpointer
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.service.store import SqliteDatabase
from tactful.settings import Settings
from tests.support_helpers import shared_context


async def checkpoints_after_one_turn(durability: str) -> int:
    ctx = shared_context()
    ctx = dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"durability": durability}))
    graph = compile_support_graph(InMemorySaver())
    runner = SupportRunner(graph, lambda tenant: ctx)
    result = await runner.turn("d1", "I forgot my password")
    assert result.action == "respond"
    config = {"configurable": {"thread_id": "default:d1"}}
    return len([c async for c in graph.aget_state_history(config)])  # type: ignore[arg-type]


@pytest.mark.parametrize("durability", ["sync", "async"])
async def test_step_durability_checkpoints_every_step(durability: str) -> None:
    assert await checkpoints_after_one_turn(durability) > 5


async def test_exit_durability_checkpoints_once_per_turn() -> None:
    per_step = await checkpoints_after_one_turn("sync")
    at_exit = await checkpoints_after_one_turn("exit")
    assert at_exit < per_step
    assert at_exit <= 2  # the input, and the end of the turn


@pytest.mark.parametrize(("level", "code"), [("normal", 1), ("full", 2)])
async def test_sqlite_synchronous_setting_reaches_the_checkpointer_and_the_store(
    tmp_path: Path, level: str, code: int
) -> None:
    settings = Settings(data_dir=tmp_path, sqlite_synchronous=level)  # type: ignore[arg-type]
    async with open_checkpointer(settings) as saver:
        cursor = await saver.conn.execute("PRAGMA synchronous")  # type: ignore[attr-defined]
        assert (await cursor.fetchone())[0] == code
    db = await SqliteDatabase.open(tmp_path / "store.db", synchronous=level)
    try:
        assert tuple((await db.fetchall("PRAGMA synchronous"))[0].values()) == (code,)
    finally:
        await db.conn.close()
