"""The one-round-trip SQLite checkpointer reads and writes exactly what LangGraph's ``AsyncSqliteSaver`` does, the
archive's store writes what ``AsyncSqliteStore`` reads, and the service's statements report the same row counts,
in fewer calls to aiosqlite's connection thread."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.sqlite.aio import AsyncSqliteStore

from tactful.graphs import sqlite_saver
from tactful.graphs.checkpoint import open_checkpointer
from tactful.graphs.runner import SupportRunner
from tactful.graphs.sqlite_saver import OneTripSqliteSaver, OneTripSqliteStore, reusing
from tactful.graphs.support import compile_support_graph
from tactful.service.backend import open_backend
from tactful.service.store import SqliteDatabase
from tactful.settings import Settings
from tests.server_helpers import in_process, service_settings, services_of
from tests.support_helpers import shared_context


def _comparable(tup: Any) -> Any:
    if tup is None:
        return None
    return (tup.config, tup.checkpoint, tup.metadata, tup.parent_config, tup.pending_writes)


async def test_reads_and_writes_the_same_checkpoints_as_langgraphs_saver(tmp_path: Path) -> None:
    ctx = shared_context()
    ctx = dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"durability": "sync"}))
    path = str(tmp_path / "c.db")
    async with OneTripSqliteSaver.from_conn_string(path) as ours:
        runner = SupportRunner(compile_support_graph(ours), lambda tenant: ctx)
        await runner.turn("a", "I forgot my password")  # every step checkpointed, with pending writes
        await runner.turn("a", "it still does not work")
        config = {"configurable": {"thread_id": "default:a", "checkpoint_ns": ""}}
        mine = [t async for t in ours.alist(config)]  # type: ignore[arg-type]
        latest = await ours.aget_tuple(config)  # type: ignore[arg-type]
        by_id = [await ours.aget_tuple(t.config) for t in mine]
        missing = await ours.aget_tuple({"configurable": {"thread_id": "default:none", "checkpoint_ns": ""}})
    async with AsyncSqliteSaver.from_conn_string(path) as theirs:
        assert _comparable(latest) == _comparable(await theirs.aget_tuple(config))  # type: ignore[arg-type]
        assert [_comparable(t) for t in by_id] == [_comparable(await theirs.aget_tuple(t.config)) for t in mine]
        assert missing is None
        assert await theirs.aget_tuple({"configurable": {"thread_id": "default:none", "checkpoint_ns": ""}}) is None
        assert any(t.pending_writes for t in by_id)  # the comparison covered pending writes too
        assert latest is not None and latest.checkpoint["id"] == mine[0].checkpoint["id"]
    # and LangGraph's saver reads what ours wrote: the same turn's state either way
    async with AsyncSqliteSaver.from_conn_string(path) as theirs:
        values = (await compile_support_graph(theirs).aget_state(config)).values  # type: ignore[arg-type]
    assert values["turn"] == 2


async def test_the_product_checkpointer_is_the_one_trip_saver(tmp_path: Path) -> None:
    async with open_checkpointer(Settings(data_dir=tmp_path)) as saver:
        assert isinstance(saver, OneTripSqliteSaver)


async def test_a_turn_costs_fewer_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls["all"] += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    ctx = shared_context()

    async def trips(cls: type[AsyncSqliteSaver], name: str) -> int:
        async with cls.from_conn_string(str(tmp_path / f"{name}.db")) as saver:
            runner = SupportRunner(compile_support_graph(saver), lambda tenant: ctx)
            await runner.turn("t", "I forgot my password")  # set-up and the first checkpoint
            calls.clear()
            await runner.turn("t", "it still does not work")
            return calls["all"]

    assert await trips(OneTripSqliteSaver, "ours") < await trips(AsyncSqliteSaver, "theirs")


async def test_statements_report_their_row_counts(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(tmp_path / "s.db")
    try:
        assert await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)") in (-1, 0)
        assert await db.execute("INSERT INTO t VALUES (?, ?), (?, ?)", ("a", 1, "b", 2)) == 2
        assert await db.execute("UPDATE t SET v = v + 1 WHERE k = ?", ("a",)) == 1
        assert await db.execute("DELETE FROM t WHERE k = ?", ("none",)) == 0
        assert await db.fetchall("SELECT k, v FROM t ORDER BY k") == [{"k": "a", "v": 2}, {"k": "b", "v": 2}]
        with pytest.raises(aiosqlite.IntegrityError):
            await db.execute("INSERT INTO t VALUES (?, ?)", ("a", 9))
        assert await db.fetchall("SELECT v FROM t WHERE k = 'a'") == [{"v": 2}]
    finally:
        await db.aclose()


async def test_the_one_trip_store_writes_what_langgraphs_store_reads_in_one_call(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    ns = ("tactful", "archive", "default:a")
    async with OneTripSqliteStore.from_conn_string(path) as ours:
        await ours.setup()
        calls = Counter[str]()
        original = ours.conn._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            calls["call"] += 1
            return await original(fn, *args, **kwargs)

        ours.conn._execute = counted  # type: ignore[method-assign]
        await ours.aput(ns, "00000001", {"messages": [{"role": "user", "text": "hello"}]}, index=False)
        assert calls["call"] == 1  # BEGIN, the insert, COMMIT and the cursor in one hand-off
        await ours.aput(ns, "00000001", {"messages": [{"role": "user", "text": "hello again"}]}, index=False)
        await ours.aput(ns, "00000002", {"tried": ["reset_link"]}, index=False)
        await ours.adelete(ns, "00000002")  # a delete is a put of None: one trip too
        mine = await ours.asearch(ns)  # a read goes the inherited way
    async with AsyncSqliteStore.from_conn_string(path) as theirs:
        items = await theirs.asearch(ns)
    assert [(i.key, i.value) for i in items] == [("00000001", {"messages": [{"role": "user", "text": "hello again"}]})]
    assert [(i.key, i.value, i.created_at, i.updated_at) for i in mine] == [
        (i.key, i.value, i.created_at, i.updated_at) for i in items
    ]


async def test_the_service_archive_is_the_one_trip_store(tmp_path: Path) -> None:
    async with open_backend(Settings(data_dir=tmp_path)) as backend:
        assert isinstance(backend.archive, OneTripSqliteStore)


async def test_a_latest_read_serves_the_next_read_once_until_a_write(tmp_path: Path) -> None:
    ctx = shared_context()
    async with OneTripSqliteSaver.from_conn_string(str(tmp_path / "r.db")) as saver:
        runner = SupportRunner(compile_support_graph(saver), lambda tenant: ctx)
        await runner.turn("a", "I forgot my password")
        await runner.turn("b", "where is my order")
        config: Any = {"configurable": {"thread_id": "default:a", "checkpoint_ns": ""}}
        latest = await saver.read_latest(config)
        assert latest.value is not None and latest.reusable
        assert _comparable(latest.value) == _comparable(await saver.aget_tuple(config))
        with reusing(latest):
            other = await saver.aget_tuple({"configurable": {"thread_id": "default:b", "checkpoint_ns": ""}})
            assert other is not None and other is not latest.value  # another thread: read as ever
            assert await saver.aget_tuple(config) is latest.value  # served from the earlier read
            assert await saver.aget_tuple(config) is not latest.value  # once
        assert await saver.aget_tuple(config) is not latest.value  # only inside ``reusing``
        latest.fresh = True
        with reusing(latest):
            await runner.turn("a", "it still does not work")  # the run's read is served, its write stales it
            assert not latest.fresh
            after = await saver.aget_tuple(config)
        assert after is not None and after.checkpoint["id"] != latest.value.checkpoint["id"]
        assert (await runner.values("a"))["turn"] == 2  # type: ignore[index]
        missing = await saver.read_latest({"configurable": {"thread_id": "default:none"}})
        assert missing.value is None and missing.reusable


async def test_a_service_turn_reads_its_checkpoint_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: Counter[str] = Counter()
    original = sqlite_saver.one_trip

    async def counted(conn: Any, fn: Any) -> Any:
        reads[fn.__name__] += 1  # ``read``: a checkpoint read; ``write``: a checkpoint written
        return await original(conn, fn)

    async with in_process(service_settings(tmp_path)) as (app, client):
        assert isinstance(services_of(app).turns.runner.graph.checkpointer, OneTripSqliteSaver)
        monkeypatch.setattr(sqlite_saver, "one_trip", counted)
        for i, text in enumerate(["I forgot my password", "the reset link never arrived", "still nothing"]):
            reads.clear()
            r = await client.post("/v1/conversations/once/messages", json={"text": text, "message_id": f"m{i}"})
            assert r.status_code == 200, r.text
            assert (reads["read"], reads["write"]) == (1, 1)  # reconcile's read serves the run too
        r = await client.post("/v1/conversations/once/messages", json={"text": "still nothing", "message_id": "m2"})
        assert r.json()["turn"] == 3  # a retry replays the stored result
        state = (await client.get("/v1/conversations/once")).json()
    assert [m["role"] for m in state["messages"]].count("user") == 3
