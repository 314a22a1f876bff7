"""The rate limit holds across worker processes: two ``tactful serve`` processes on one store (the SQLite file of
one host, PostgreSQL, or Redis) allow a key its burst once between them, not once each. Also the bucket itself:
it refills with time, and answers how long to wait."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tactful.service.ratelimit import DatabaseRateLimiter
from tactful.service.store import SqliteDatabase
from tests.server_helpers import ServerProcess, bearer, clean_env
from tests.test_postgres_service import PG_URL, schema  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/15"
BURST = 4


def two_workers(tmp_path: Path, key: str, **env: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    common = clean_env(
        TACTFUL_DATA_DIR=str(tmp_path / "data"),
        TACTFUL_API_KEYS=json.dumps({"acme": [key]}),
        TACTFUL_RATE_LIMIT_PER_MINUTE="0.01",  # one token every 100 minutes: only the burst counts here
        TACTFUL_RATE_LIMIT_BURST=str(BURST),
        **env,
    )
    first = ServerProcess(common, log_path=tmp_path / "a.log").start()
    try:
        second = ServerProcess(common, log_path=tmp_path / "b.log").start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def hammer(servers: tuple[ServerProcess, ServerProcess], key: str) -> list[int]:
    statuses = []
    for i in range(6):  # three requests to each worker, alternating
        r = httpx.get(f"{servers[i % 2].url}/v1/handoffs", headers=bearer(key), timeout=30)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) > 60
            assert r.json()["code"] == "rate_limited"
    return statuses


def assert_one_burst(statuses: list[int]) -> None:
    assert statuses.count(200) == BURST, statuses
    assert statuses.count(429) == 6 - BURST, statuses


def test_two_workers_on_one_sqlite_file_share_the_limit(tmp_path: Path) -> None:
    key = f"acme-{uuid.uuid4().hex}"
    for servers in two_workers(tmp_path, key):
        assert_one_burst(hammer(servers, key))


@pytest.mark.postgres
def test_two_workers_on_postgres_share_the_limit(tmp_path: Path, schema: str) -> None:  # noqa: F811
    key = f"acme-{uuid.uuid4().hex}"
    for servers in two_workers(tmp_path, key, DATABASE_URL=PG_URL, TACTFUL_DATABASE_SCHEMA=schema):
        assert_one_burst(hammer(servers, key))


def test_two_workers_on_redis_share_the_limit(tmp_path: Path) -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        pytest.skip("no Redis at 127.0.0.1:6379; the Redis-backed limit is not tested")
    key = f"acme-{uuid.uuid4().hex}"  # its own bucket: the digest of a fresh key
    for servers in two_workers(tmp_path, key, TACTFUL_REDIS_URL=REDIS_URL):
        assert_one_burst(hammer(servers, key))


async def test_a_bucket_refills_with_time_and_says_how_long_to_wait(tmp_path: Path) -> None:
    now = [1000.0]
    db = await SqliteDatabase.open(tmp_path / "t.db")
    try:
        limiter = DatabaseRateLimiter(db, per_minute=60, burst=2, clock=lambda: now[0])
        await limiter.setup()
        assert [await limiter.check("k") for _ in range(3)] == [None, None, 1]
        now[0] += 0.5
        assert await limiter.check("k") == 1  # half a token back: not enough yet
        now[0] += 0.6
        assert await limiter.check("k") is None
        assert await limiter.check("other") is None  # keys are apart
        now[0] += 3600
        assert [await limiter.check("k") for _ in range(3)] == [None, None, 1]  # refills to the burst, not past it
    finally:
        await db.aclose()
