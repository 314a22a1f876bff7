"""The per-key rate limit, held in a store every worker shares, so N workers allow the limit once, not N times.

A token bucket per API key (``rate_limit_per_minute`` on average, ``rate_limit_burst`` at once), updated by one
atomic statement per request:

* PostgreSQL (``DATABASE_URL``): an ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on ``tactful_rate_buckets``;
* SQLite (the default, one host): the same statement on the service's database file, which every worker on
  the host opens;
* Redis (``TACTFUL_REDIS_URL``, when set; takes precedence): one Lua script per request.

Every bucket refills by elapsed time, so an idle key's row is as good as none; rows of keys idle for an hour are
deleted now and then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from tactful.service.store import Database

PRUNE_EVERY = 1000
IDLE_S = 3600.0


class Limiter(Protocol):
    @property
    def enabled(self) -> bool: ...

    async def check(self, key: str) -> int | None:
        """Take one token for ``key``: None when allowed, else the seconds to wait (for Retry-After)."""
        ...

    async def aclose(self) -> None: ...


def retry_after_s(tokens: float, rate_per_s: float) -> int:
    return max(1, math.ceil((1.0 - tokens) / rate_per_s))


_SQL = {
    "postgres": (
        "CREATE TABLE IF NOT EXISTS tactful_rate_buckets (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, "
        "stamp DOUBLE PRECISION NOT NULL, allowed BOOLEAN NOT NULL)",
        "INSERT INTO tactful_rate_buckets AS b (key, tokens, stamp, allowed) VALUES (?, ? - 1, ?, TRUE) "
        "ON CONFLICT (key) DO UPDATE SET "
        "allowed = LEAST(?, b.tokens + GREATEST(0, EXCLUDED.stamp - b.stamp) * ?) >= 1, "
        "tokens = LEAST(?, b.tokens + GREATEST(0, EXCLUDED.stamp - b.stamp) * ?) "
        "- CASE WHEN LEAST(?, b.tokens + GREATEST(0, EXCLUDED.stamp - b.stamp) * ?) >= 1 THEN 1 ELSE 0 END, "
        "stamp = GREATEST(b.stamp, EXCLUDED.stamp) "
        "RETURNING allowed, tokens",
    ),
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS tactful_rate_buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, "
        "stamp REAL NOT NULL, allowed INTEGER NOT NULL)",
        "INSERT INTO tactful_rate_buckets (key, tokens, stamp, allowed) VALUES (?, ? - 1, ?, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "allowed = MIN(?, tokens + MAX(0, excluded.stamp - stamp) * ?) >= 1, "
        "tokens = MIN(?, tokens + MAX(0, excluded.stamp - stamp) * ?) "
        "- CASE WHEN MIN(?, tokens + MAX(0, excluded.stamp - stamp) * ?) >= 1 THEN 1 ELSE 0 END, "
        "stamp = MAX(stamp, excluded.stamp) "
        "RETURNING allowed, tokens",
    ),
}


class DatabaseRateLimiter:
    """Token buckets in the service's database (PostgreSQL or the SQLite file)."""

    def __init__(
        self, db: Database, *, per_minute: float, burst: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._create, self._take = _SQL[db.kind]
        self._calls = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def setup(self) -> None:
        await self.db.execute(self._create)

    async def check(self, key: str) -> int | None:
        if not self.enabled:
            return None
        now = self.clock()
        b, r = self.burst, self.rate
        rows = await self.db.fetchall(self._take, (key, b, now, b, r, b, r, b, r))
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            await self.db.execute("DELETE FROM tactful_rate_buckets WHERE stamp < ?", (now - IDLE_S,))
        row = rows[0]
        if row["allowed"]:
            return None
        return retry_after_s(float(row["tokens"]), r)

    async def aclose(self) -> None:
        return None


_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(b[1]) or burst
local stamp = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter:
    """Token buckets in Redis (one Lua script per request: atomic, timed by the Redis server's clock)."""

    def __init__(self, url: str, *, per_minute: float, burst: int, prefix: str = "tactful:rate:") -> None:
        import redis.asyncio as redis

        self.client: Any = redis.from_url(url)
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.prefix = prefix
        self._script = self.client.register_script(_LUA)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def setup(self) -> None:
        await self.client.ping()

    async def check(self, key: str) -> int | None:
        if not self.enabled:
            return None
        allowed, tokens = await self._script(keys=[self.prefix + key], args=[self.rate, self.burst])
        if int(allowed):
            return None
        return retry_after_s(float(tokens), self.rate)

    async def aclose(self) -> None:
        await self.client.aclose()
