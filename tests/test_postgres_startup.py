"""Schema set-up on PostgreSQL cannot deadlock: three workers starting at once on a fresh database all become
ready, ten times over, each time on a database created for the trial (``CREATE DATABASE`` on the test server).

Each worker runs what the service's start-up runs (:func:`open_backend`, then :func:`open_limiter`) on its own
pools and connections, so the three meet in the server exactly as three processes would. A start-up that waits
on another for good (the advisory migration lock against ``CREATE INDEX CONCURRENTLY``) is caught by the bound on
the whole trial, which is far beyond what a start-up takes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tactful.service.backend import open_backend, open_limiter
from tests.server_helpers import service_settings
from tests.test_postgres_service import PG_URL, _answers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TRIALS = 10
WORKERS = 3
HUNG_AFTER_S = 30.0  # a healthy trial takes a second or two; this only tells a hang from a slow machine


async def start_worker(database_url: str, data_dir: Path) -> str:
    settings = service_settings(data_dir, DATABASE_URL=database_url)
    async with open_backend(settings) as backend, open_limiter(settings, backend):
        return backend.kind


async def trial(database_url: str, tmp_path: Path) -> list[str]:
    workers = [start_worker(database_url, tmp_path / f"w{i}") for i in range(WORKERS)]
    return await asyncio.wait_for(asyncio.gather(*workers), timeout=HUNG_AFTER_S)


@pytest.mark.parametrize("attempt", range(TRIALS))
async def test_three_workers_starting_at_once_on_a_fresh_database_all_become_ready(
    tmp_path: Path, attempt: int
) -> None:
    if problem := _answers():
        pytest.skip(f"no PostgreSQL at {PG_URL}: {problem}")
    name = f"tactful_start_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_conninfo(**{**conninfo_to_dict(PG_URL), "dbname": name})
        assert await trial(url, tmp_path) == ["postgres"] * WORKERS
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
