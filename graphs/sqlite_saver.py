"""SQLite statements in one round trip to aiosqlite's connection thread.

aiosqlite runs every call — ``execute``, ``fetchone``, ``fetchall``, a cursor's ``close``, ``commit`` — as one item
on its connection's thread, and each item costs a queue hand-off there and a wake-up of the event loop back
(~65 µs of CPU on the 2-core VM, two threads taking the GIL in turn). LangGraph's ``AsyncSqliteSaver`` reads a
checkpoint in six such calls and writes one in three; a support turn made ~33 of them in all. :func:`one_trip`
runs a plain function on the connection's own thread with its ``sqlite3`` connection, so a read or a write is
one hand-off; :class:`OneTripSqliteSaver` reads and writes checkpoints that way, with the same statements, in
the same order, under the same lock, and deserializes on the event loop as before; :class:`OneTripSqliteStore`
writes the archive's record a turn that way.

:class:`Latest` lets one read of a thread's latest checkpoint serve the next one too: the service reads it to
reconcile the conversation before a turn, then the turn's run would read it again, under the same lock, with
nothing written in between (:func:`reusing`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.checkpoint.sqlite.utils import load_pending_writes, pending_writes_sql
from langgraph.store.base import Op, PutOp, Result
from langgraph.store.sqlite.aio import AsyncSqliteStore
from langgraph.store.sqlite.base import _group_ops

T = TypeVar("T")

SELECT_BY_ID = (
    "SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
)
SELECT_LATEST = (
    "SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
    "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1"
)
INSERT_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
    "checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


async def one_trip(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(connection)`` on ``conn``'s own thread: any number of statements for one queue round trip.

    ``fn`` must not block on anything but SQLite (it holds the connection's thread, as one aiosqlite call does)."""
    return cast(T, await conn._execute(lambda: fn(conn._conn)))


class Latest:
    """A thread's latest checkpoint (root namespace) as one read found it (``None``: no checkpoint yet). While
    ``fresh`` and in :func:`reusing`, the saver answers the next read of the same thread's latest checkpoint with
    it instead of reading again, once; any write to the thread through the saver makes it stale."""

    __slots__ = ("fresh", "thread_id", "value")

    def __init__(self, thread_id: str, value: CheckpointTuple | None) -> None:
        self.thread_id = thread_id
        self.value = value
        self.fresh = True

    @property
    def reusable(self) -> bool:
        """Whether the tuple may serve another read once a state snapshot was built from it: LangGraph's
        ``aget_state`` applies pending writes onto the tuple's checkpoint in place, so only one without any."""
        return self.value is None or not self.value.pending_writes


_LATEST: ContextVar[Latest | None] = ContextVar("tactful_latest_checkpoint", default=None)


@contextmanager
def reusing(latest: Latest | None) -> Iterator[None]:
    """Within this block (and the tasks it starts), ``latest`` answers the next read of its thread's latest
    checkpoint once, while it is fresh."""
    token = _LATEST.set(latest)
    try:
        yield
    finally:
        _LATEST.reset(token)


def _stale(thread_id: object) -> None:
    latest = _LATEST.get()
    if latest is not None and latest.thread_id == str(thread_id):
        latest.fresh = False


class OneTripSqliteSaver(AsyncSqliteSaver):
    """``AsyncSqliteSaver`` whose checkpoint read (``aget_tuple``) and write (``aput``) are one round trip each to
    the connection's thread instead of six and three. Same SQL, same results; everything else is inherited."""

    async def read_latest(self, config: RunnableConfig) -> Latest:
        """The thread's latest checkpoint, read now, to serve a later read in :func:`reusing`."""
        thread = str(config["configurable"]["thread_id"])
        with reusing(None):
            value = await self.aget_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        return Latest(thread, value)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        checkpoint_ns = config["configurable"].get("checkpoint_ns", "")
        thread = str(config["configurable"]["thread_id"])
        wanted = get_checkpoint_id(config)
        latest = _LATEST.get()
        if latest is not None and latest.fresh and not wanted and not checkpoint_ns and latest.thread_id == thread:
            latest.fresh = False
            return latest.value
        await self.setup()
        writes_sql = pending_writes_sql(self._has_task_path)

        def read(db: sqlite3.Connection) -> tuple[Any, list[Any]]:
            cur = db.cursor()
            try:
                if wanted:
                    cur.execute(SELECT_BY_ID, (thread, checkpoint_ns, wanted))
                else:
                    cur.execute(SELECT_LATEST, (thread, checkpoint_ns))
                value = cur.fetchone()
                if value is None:
                    return None, []
                found_id = wanted or value[1]
                found_thread = thread if wanted else value[0]
                cur.execute(writes_sql, (str(found_thread), checkpoint_ns, str(found_id)))
                return value, cur.fetchall()
            finally:
                cur.close()

        async with self.lock:
            value, writes = await one_trip(self.conn, read)
        if value is None:
            return None
        thread_id, checkpoint_id, parent_checkpoint_id, type_, checkpoint, metadata = value
        if not wanted:
            config = {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "checkpoint_id": checkpoint_id,
                }
            }
        return CheckpointTuple(
            config,
            self.serde.loads_typed((type_, checkpoint)),
            cast(CheckpointMetadata, (json.loads(metadata) if metadata is not None else {})),
            (
                {
                    "configurable": {
                        "thread_id": thread_id,
                        "checkpoint_ns": checkpoint_ns,
                        "checkpoint_id": parent_checkpoint_id,
                    }
                }
                if parent_checkpoint_id
                else None
            ),
            load_pending_writes(writes, self.serde),
        )

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self.setup()
        thread_id = config["configurable"]["thread_id"]
        _stale(thread_id)
        checkpoint_ns = config["configurable"]["checkpoint_ns"]
        type_, serialized_checkpoint = self.serde.dumps_typed(checkpoint)
        serialized_metadata = json.dumps(
            get_checkpoint_metadata(config, metadata), ensure_ascii=False
        ).encode("utf-8", "ignore")
        params = (
            str(config["configurable"]["thread_id"]),
            checkpoint_ns,
            checkpoint["id"],
            config["configurable"].get("checkpoint_id"),
            type_,
            serialized_checkpoint,
            serialized_metadata,
        )

        def write(db: sqlite3.Connection) -> None:
            cur = db.execute(INSERT_CHECKPOINT, params)
            try:
                db.commit()
            finally:
                cur.close()

        async with self.lock:
            await one_trip(self.conn, write)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }


    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        _stale(config["configurable"]["thread_id"])
        await super().aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        _stale(thread_id)
        await super().adelete_thread(thread_id)


class OneTripSqliteStore(AsyncSqliteStore):
    """``AsyncSqliteStore`` whose batches of plain puts (the archive's one record a turn) are one round trip to
    the connection's thread instead of five (``BEGIN``, a cursor, the insert, ``COMMIT``, the cursor's close):
    the same statements from the same ``_prepare_batch_PUT_queries``, in the same order, under the same lock,
    with ``COMMIT`` run even when an insert fails, as the inherited cursor does. Batches with reads, or puts that
    need embeddings, go the inherited way."""

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        grouped, count = _group_ops(ops)
        if set(grouped) != {PutOp}:
            return await super().abatch(ops)
        queries, embedding_request = self._prepare_batch_PUT_queries(
            cast(Sequence[tuple[int, PutOp]], grouped[PutOp])
        )
        if embedding_request:
            return await super().abatch(ops)
        if not self.is_setup:
            await self.setup()

        def put(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")
            cur = db.cursor()
            try:
                try:
                    for query, params in queries:
                        cur.execute(query, params)
                finally:
                    db.execute("COMMIT")
            finally:
                cur.close()

        async with self.lock:
            await one_trip(self.conn, put)
        return [None] * count
