"""One turn at a time per conversation, also across worker processes.

Two layers: an ``asyncio.Lock`` per conversation inside the process (FIFO, so concurrent messages are taken in
arrival order and only one of them waits on the database), then a cross-process lock held for the whole turn:

* PostgreSQL: ``pg_advisory_lock`` on a 64-bit hash of (schema, tenant, conversation), held on a dedicated
  connection from a separate pool; ``lock_timeout`` bounds the wait. A dead session's lock is released.
* SQLite: an exclusive ``fcntl`` byte-range lock on ``data_dir/tactful.locks`` at an offset given by the same
  hash, polled without blocking. The kernel releases it when the process dies.

The wait is bounded (``turn_lock_timeout_s``); past it :class:`~tactful.errors.ConversationBusyError` (409).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg_pool import PoolTimeout

from tactful.errors import ConversationBusyError, WorkerBusyError
from tactful.graphs.checkpoint import PgPool, advisory_key

log = logging.getLogger("tactful.locks")

Release = Callable[[], Awaitable[None]]


class CrossProcessLock(Protocol):
    async def acquire(self, key: int, *, timeout: float) -> Release:
        """Hold ``key`` until the returned coroutine function is awaited; TimeoutError after ``timeout``."""
        ...

    async def aclose(self) -> None: ...


class NoCapacity(Exception):
    """No connection was free to take the lock on in time: every turn slot of this worker is busy."""


class AdvisoryLocks:
    """PostgreSQL session advisory locks, each held on its own pooled connection for the length of a turn."""

    def __init__(self, pool: PgPool) -> None:
        self.pool = pool

    async def acquire(self, key: int, *, timeout: float) -> Release:
        try:
            conn = await self.pool.getconn(timeout=max(timeout, 0.01))
        except PoolTimeout as exc:
            raise NoCapacity from exc
        try:
            await conn.execute(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
            await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg.errors.LockNotAvailable as exc:
            await self.pool.putconn(conn)
            raise TimeoutError from exc
        except BaseException:
            # Cancelled or failed mid-query: the session may or may not hold the lock; ending it frees it.
            await asyncio.shield(self._discard(conn))
            raise

        async def release() -> None:
            try:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                log.warning("could not unlock conversation lock %s; closing its session", key)
                await conn.close()
            await self.pool.putconn(conn)

        return release

    async def _discard(self, conn: psycopg.AsyncConnection[object]) -> None:
        with contextlib.suppress(psycopg.Error):
            await conn.close()
        await self.pool.putconn(conn)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        return None


class FileRangeLocks:
    """Exclusive byte-range locks on one file (POSIX ``lockf``), one byte per conversation hash."""

    POLL_MIN_S = 0.002
    POLL_MAX_S = 0.05

    def __init__(self, path: Path) -> None:
        import fcntl  # noqa: F401 - fail here on platforms without it

        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    async def acquire(self, key: int, *, timeout: float) -> Release:
        import fcntl

        offset = key & ((1 << 62) - 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = self.POLL_MIN_S
        while True:
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, self.POLL_MAX_S)

        async def release() -> None:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, offset)

        return release

    async def aclose(self) -> None:
        os.close(self.fd)


class InProcessOnly:
    """No cross-process layer (platforms without ``fcntl``): safe for one worker process only."""

    async def acquire(self, key: int, *, timeout: float) -> Release:
        async def release() -> None:
            return None

        return release

    async def aclose(self) -> None:
        return None


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Lease:
    """A held conversation lock. ``release`` is idempotent."""

    def __init__(self, locks: ConversationLocks, key: int, outer: Release, waited_s: float) -> None:
        self._locks = locks
        self._key = key
        self._outer: Release | None = outer
        self.waited_s = waited_s

    async def release(self) -> None:
        outer, self._outer = self._outer, None
        if outer is None:
            return
        try:
            await outer()
        finally:
            self._locks._release_local(self._key)


class ConversationLocks:
    """Per-conversation mutual exclusion: in-process FIFO first, then the cross-process ``outer`` lock."""

    def __init__(self, outer: CrossProcessLock, *, namespace: str = "", timeout_s: float = 30.0) -> None:
        self.outer = outer
        self.namespace = namespace
        self.timeout_s = timeout_s
        self._local: dict[int, _Entry] = {}

    def key(self, tenant: str, conversation_id: str) -> int:
        return advisory_key("conversation", self.namespace, tenant, conversation_id)

    async def acquire(self, tenant: str, conversation_id: str) -> Lease:
        """Wait (at most ``timeout_s``) until no other turn of the conversation runs anywhere; hold it."""
        key = self.key(tenant, conversation_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        entry = self._local.setdefault(key, _Entry())
        entry.users += 1
        try:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await entry.lock.acquire()
            except TimeoutError:
                raise ConversationBusyError(conversation_id, waited_s=loop.time() - started) from None
            try:
                outer = await self.outer.acquire(
                    key, timeout=max(0.0, started + self.timeout_s - loop.time())
                )
            except TimeoutError:
                entry.lock.release()
                raise ConversationBusyError(conversation_id, waited_s=loop.time() - started) from None
            except NoCapacity:
                entry.lock.release()
                raise WorkerBusyError(waited_s=loop.time() - started) from None
            except BaseException:
                entry.lock.release()
                raise
        except BaseException:
            self._forget(key, entry)
            raise
        return Lease(self, key, outer, waited_s=loop.time() - started)

    def _release_local(self, key: int) -> None:
        entry = self._local.get(key)
        if entry is None:
            return
        entry.lock.release()
        self._forget(key, entry)

    def _forget(self, key: int, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users <= 0 and self._local.get(key) is entry:
            del self._local[key]

    async def aclose(self) -> None:
        await self.outer.aclose()


def file_locks_or_in_process(path: Path) -> CrossProcessLock:
    try:
        return FileRangeLocks(path)
    except ImportError:
        log.warning("no fcntl on this platform: conversation locks hold within one worker process only")
        return InProcessOnly()
