"""Open the service's storage in one place: checkpointer, records store and conversation locks, all on the
same database: the SQLite file ``data_dir/tactful.db`` by default, PostgreSQL with ``DATABASE_URL``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from langgraph.store.postgres.aio import AsyncPostgresStore

from tactful.graphs.checkpoint import migration_lock, open_checkpointer, open_postgres_pool, sqlite_path
from tactful.graphs.sqlite_saver import OneTripSqliteStore
from tactful.service.locks import AdvisoryLocks, ConversationLocks, file_locks_or_in_process
from tactful.service.ratelimit import DatabaseRateLimiter, Limiter, RedisRateLimiter
from tactful.service.store import PostgresDatabase, SqliteDatabase, Store
from tactful.settings import Settings


@dataclass
class Backend:
    kind: Literal["sqlite", "postgres"]
    checkpointer: BaseCheckpointSaver[str]
    store: Store
    locks: ConversationLocks
    archive: BaseStore  # the support graph's store: the transcripts' archive (tactful.agents.archive)


@asynccontextmanager
async def open_backend(settings: Settings) -> AsyncIterator[Backend]:
    """Everything the service persists, ready (tables created); closed on exit."""
    if settings.database_url:
        async with (
            open_postgres_pool(settings, name="tactful") as pool,
            open_postgres_pool(settings, name="tactful-locks") as lock_pool,
            open_checkpointer(settings, pool=pool) as saver,
        ):
            store = Store(PostgresDatabase(pool), held_events_max_age_s=settings.held_events_max_age_h * 3600)
            archive = AsyncPostgresStore(pool)
            async with migration_lock(settings):
                await store.setup()
                await archive.setup()
            locks = ConversationLocks(
                AdvisoryLocks(lock_pool),
                namespace=settings.database_schema or "",
                timeout_s=settings.turn_lock_timeout_s,
            )
            try:
                yield Backend("postgres", saver, store, locks, archive)
            finally:
                await locks.aclose()
        return
    path = sqlite_path(settings)
    async with (
        open_checkpointer(settings) as saver,
        OneTripSqliteStore.from_conn_string(str(path)) as sqlite_archive,
    ):
        await sqlite_archive.conn.execute(f"PRAGMA synchronous={settings.sqlite_synchronous.upper()}")
        db = await SqliteDatabase.open(path, synchronous=settings.sqlite_synchronous)
        try:
            store = Store(db, held_events_max_age_s=settings.held_events_max_age_h * 3600)
            async with migration_lock(settings):
                await store.setup()
                await sqlite_archive.setup()
            locks = ConversationLocks(
                file_locks_or_in_process(Path(settings.data_dir) / "tactful.locks"),
                namespace=str(path.resolve()),
                timeout_s=settings.turn_lock_timeout_s,
            )
            try:
                yield Backend("sqlite", saver, store, locks, sqlite_archive)
            finally:
                await locks.aclose()
        finally:
            await db.aclose()


@asynccontextmanager
async def open_limiter(settings: Settings, backend: Backend) -> AsyncIterator[Limiter]:
    """The rate limit's shared buckets: Redis with ``redis_url``, else the backend's database."""
    limiter: DatabaseRateLimiter | RedisRateLimiter
    if settings.redis_url:
        limiter = RedisRateLimiter(
            settings.redis_url, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
        await limiter.setup()
    else:
        limiter = DatabaseRateLimiter(
            backend.store.db, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
        async with migration_lock(settings):
            await limiter.setup()
    try:
        yield limiter
    finally:
        await limiter.aclose()
