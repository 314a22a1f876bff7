"""Checkpointer factory: a SQLite file by default (embedded), PostgreSQL when ``DATABASE_URL`` is set.

The PostgreSQL pool is built to outlive flaky networks and long model calls: TCP keepalives on every
connection, a liveness check when a connection that sat idle is checked out (one the server or a proxy dropped
meanwhile is replaced, not handed out), idle connections recycled, and a bounded lifetime. Tables go to
``settings.database_schema`` when set; start-up migrations from several processes are serialized by an
advisory lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from tactful.settings import Settings

log = logging.getLogger("tactful.db")

PgPool = AsyncConnectionPool[AsyncConnection[DictRow]]


def sqlite_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "tactful.db"


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from text parts."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    """psycopg connection options: autocommit, dict rows, keepalives, the schema as search path."""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": None,  # safe behind transaction-pooling proxies (pgbouncer)
        "row_factory": dict_row,
        "keepalives": 1,
        "keepalives_idle": settings.db_keepalive_idle_s,
        "keepalives_interval": max(1, settings.db_keepalive_idle_s // 3),
        "keepalives_count": 4,
        "connect_timeout": 10,
        "application_name": f"tactful/{settings.database_schema}" if settings.database_schema else "tactful",
    }
    if settings.database_schema:
        kwargs["options"] = f"-c search_path={settings.database_schema}"
    return kwargs


class IdleCheck:
    """Pool ``check`` / ``reset`` pair: a connection idle for ``after_s`` or more gets a round trip before it
    is handed out (a dead one is replaced); one returned moments ago is handed out as is. ``after_s == 0``
    checks every checkout."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._returned: weakref.WeakKeyDictionary[AsyncConnection[DictRow], float]
        self._returned = weakref.WeakKeyDictionary()

    async def check(self, conn: AsyncConnection[DictRow]) -> None:
        returned = self._returned.get(conn)
        if returned is not None and time.monotonic() - returned < self.after_s:
            return
        await AsyncConnectionPool.check_connection(conn)

    async def reset(self, conn: AsyncConnection[DictRow]) -> None:
        self._returned[conn] = time.monotonic()


def _reconnect_failed(pool: AsyncConnectionPool[Any]) -> None:
    log.error("PostgreSQL pool %s could not reconnect; it keeps trying on demand", pool.name)


@asynccontextmanager
async def open_postgres_pool(
    settings: Settings, *, name: str, max_size: int | None = None
) -> AsyncIterator[PgPool]:
    """An open pool on ``settings.database_url`` whose connections are checked on every checkout."""
    assert settings.database_url, "open_postgres_pool needs DATABASE_URL"
    size = max_size or settings.db_pool_max_size
    idle = IdleCheck(settings.db_check_after_idle_s)
    pool: PgPool = AsyncConnectionPool(
        settings.database_url,
        min_size=min(settings.db_pool_min_size, size),
        max_size=size,
        open=False,
        name=name,
        kwargs=connection_kwargs(settings),
        check=idle.check,
        reset=idle.reset,
        max_idle=settings.db_pool_max_idle_s,
        max_lifetime=1800.0,
        timeout=30.0,
        reconnect_failed=_reconnect_failed,
    )
    await pool.open(wait=True, timeout=30.0)
    try:
        yield pool
    finally:
        await pool.close()


MIGRATION_LOCK_POLL_S = 0.2
MIGRATION_LOCK_TIMEOUT_S = 300.0


async def _poll_advisory_lock(conn: AsyncConnection[DictRow], key: int) -> None:
    """Take the session advisory lock ``key`` by polling ``pg_try_advisory_lock``, never by a waiting
    ``pg_advisory_lock``: a waiting statement is an open transaction, and the lock holder's
    ``CREATE INDEX CONCURRENTLY`` (LangGraph's migrations) waits for every open transaction to end — a deadlock
    through this process that PostgreSQL cannot see. Between polls this connection holds no transaction."""
    deadline = time.monotonic() + MIGRATION_LOCK_TIMEOUT_S
    while True:
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,))).fetchone()
        if row and row["got"]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the PostgreSQL migration lock was held by another worker for over {MIGRATION_LOCK_TIMEOUT_S:.0f} s"
            )
        await asyncio.sleep(MIGRATION_LOCK_POLL_S)


@asynccontextmanager
async def migration_lock(settings: Settings) -> AsyncIterator[None]:
    """Serialize start-up migrations (schema, tables) across processes sharing one database: an advisory lock
    on PostgreSQL, an exclusive ``flock`` next to the SQLite file."""
    if not settings.database_url:
        path = sqlite_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".migrate-lock"), "a+b") as handle:
            try:
                import fcntl
            except ImportError:  # no fcntl: one process at a time is the operator's job
                yield
                return
            await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    kwargs = connection_kwargs(settings)
    kwargs.pop("options", None)  # the schema may not exist yet
    conn = await AsyncConnection.connect(settings.database_url, **kwargs)
    try:
        await _poll_advisory_lock(conn, advisory_key("tactful", "migrations"))
        if settings.database_schema:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"')
        yield
    finally:
        await conn.close()  # ends the session, which releases the lock


async def tune_sqlite_saver(saver: Any, settings: Settings) -> None:
    """Apply ``settings.sqlite_synchronous`` to a set-up ``AsyncSqliteSaver``'s connection: one fsync per commit
    would be ~20 per turn with durability ``sync``."""
    await saver.conn.execute(f"PRAGMA synchronous={settings.sqlite_synchronous.upper()}")


@asynccontextmanager
async def open_checkpointer(
    settings: Settings, *, pool: PgPool | None = None
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Yield a ready checkpointer (tables created) for the configured database.

    With PostgreSQL, pass ``pool`` to share one pool with other stores; otherwise one is opened here.
    """
    if settings.database_url:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        if pool is None:
            async with (
                open_postgres_pool(settings, name="checkpoints") as own,
                open_checkpointer(settings, pool=own) as saver,
            ):
                yield saver
            return
        saver = AsyncPostgresSaver(pool)
        async with migration_lock(settings):
            await saver.setup()
        yield saver
        return
    from tactful.graphs.sqlite_saver import OneTripSqliteSaver

    path = sqlite_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with OneTripSqliteSaver.from_conn_string(str(path)) as sqlite_saver:
        async with migration_lock(settings):
            await sqlite_saver.setup()  # also switches the file to WAL
        await tune_sqlite_saver(sqlite_saver, settings)
        yield sqlite_saver
