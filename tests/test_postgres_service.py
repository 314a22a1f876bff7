"""The service on PostgreSQL (``TACTFUL_TEST_DATABASE_URL``, default postgresql://postgres@127.0.0.1:5432/test):
durable turns, idempotency, handoffs, tenants, the advisory lock, a pool that survives dropped connections,
and two server processes sharing one database. Each test works in its own schema, dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from tactful.errors import ConversationBusyError, WorkerBusyError
from tactful.graphs.checkpoint import open_postgres_pool
from tactful.service.locks import AdvisoryLocks, ConversationLocks
from tactful.settings import Settings
from tests.server_helpers import (
    KEY_ACME,
    KEY_GLOBEX,
    TWO_TENANTS,
    ServerProcess,
    assert_linear_history,
    assert_no_forks,
    bearer,
    clean_env,
    in_process,
    service_settings,
    services_of,
)

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("TACTFUL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _answers() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip()


@pytest.fixture
def schema() -> Iterator[str]:
    problem = _answers()
    if problem:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {problem}")
    name = f"tactful_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_settings(tmp_path: Path, schema: str, **overrides: object) -> Settings:
    return service_settings(tmp_path, DATABASE_URL=PG_URL, database_schema=schema, **overrides)


def checkpoint_parents(schema: str) -> list[str | None]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(f'SELECT parent_checkpoint_id FROM "{schema}".checkpoints').fetchall()
    return [r[0] for r in rows]


async def test_turns_retries_events_and_handoffs_persist_on_postgres(tmp_path: Path, schema: str) -> None:
    settings = pg_settings(tmp_path, schema)
    async with in_process(settings) as (_, client):
        first = await client.post(
            "/v1/conversations/c1/messages",
            json={"text": "how do I reset my password?", "message_id": "m1", "context": {"account_id": "p1"}},
        )
        retry = await client.post(
            "/v1/conversations/c1/messages",
            json={"text": "how do I reset my password?", "message_id": "m1", "context": {"account_id": "p1"}},
        )
        events = await client.post(
            "/v1/events", json={"person_id": "p1", "events": [{"type": "mfa_failure"}]}
        )
        handoff_turn = await client.post(
            "/v1/conversations/c1/messages", json={"text": "let me talk to a person"}
        )
        ready = (await client.get("/readyz")).json()
    assert first.status_code == 200 and retry.json() == first.json()
    assert events.status_code == 200 and events.json()["events_added"] == 1
    assert handoff_turn.json()["mode"] == "human"
    assert ready["database"] == "postgres"
    async with in_process(settings) as (_, client):  # a restart loses nothing
        conversation = (await client.get("/v1/conversations/c1")).json()
        handoffs = (await client.get("/v1/handoffs", params={"status": "open"})).json()
        hid = handoffs["items"][0]["id"]
        await client.post(f"/v1/handoffs/{hid}/claim", json={"agent": "ana"})
        await client.post(f"/v1/handoffs/{hid}/reply", json={"text": "Ana here", "agent": "ana"})
        back = await client.post(f"/v1/handoffs/{hid}/return", json={})
        bot = (
            await client.post("/v1/conversations/c1/messages", json={"text": "how do I reset my password?"})
        ).json()
    assert conversation["turn"] == 2 and [d["turn"] for d in conversation["decisions"]] == [1, 2]
    assert [e["type"] for e in conversation["state"]["events"]] == ["mfa_failure"]
    assert handoffs["count"] == 1
    assert back.json()["status"] == "returned"
    assert bot["turn"] == 3 and bot["mode"] == "bot" and bot["reply"]


async def test_tenants_are_isolated_on_postgres(tmp_path: Path, schema: str) -> None:
    async with in_process(pg_settings(tmp_path, schema, api_keys=TWO_TENANTS)) as (_, client):
        await client.post(
            "/v1/conversations/x/messages", json={"text": "let me talk to a person"}, headers=bearer(KEY_ACME)
        )
        other = await client.get("/v1/conversations/x", headers=bearer(KEY_GLOBEX))
        queue = (await client.get("/v1/handoffs", headers=bearer(KEY_GLOBEX))).json()
        own = (await client.get("/v1/handoffs", headers=bearer(KEY_ACME))).json()
    assert other.status_code == 404
    assert queue["count"] == 0 and own["count"] == 1


async def test_concurrent_messages_in_one_process_run_one_at_a_time_on_postgres(
    tmp_path: Path, schema: str
) -> None:
    n = 12
    async with in_process(pg_settings(tmp_path, schema)) as (_, client):
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/conversations/c/messages", json={"text": f"order {i} is late", "message_id": f"m{i}"}
                )
                for i in range(n)
            )
        )
        conversation = (await client.get("/v1/conversations/c")).json()
    assert {r.status_code for r in responses} == {200}
    assert_linear_history(conversation, {f"m{i}": r.json() for i, r in enumerate(responses)})
    assert_no_forks(checkpoint_parents(schema))


@pytest.fixture
async def lock_pools(schema: str) -> AsyncIterator[tuple[ConversationLocks, ConversationLocks]]:
    settings = Settings(DATABASE_URL=PG_URL, database_schema=None, db_pool_max_size=4)
    async with open_postgres_pool(settings, name="a") as a, open_postgres_pool(settings, name="b") as b:
        yield (
            ConversationLocks(AdvisoryLocks(a), namespace=schema, timeout_s=0.3),
            ConversationLocks(AdvisoryLocks(b), namespace=schema, timeout_s=0.3),
        )


async def test_the_advisory_lock_excludes_another_holder_until_released(
    lock_pools: tuple[ConversationLocks, ConversationLocks],
) -> None:
    first, second = lock_pools
    held = await first.acquire("acme", "c1")
    with pytest.raises(ConversationBusyError):
        await second.acquire("acme", "c1")
    other_conversation = await second.acquire("acme", "c2")
    other_tenant = await second.acquire("globex", "c1")
    await held.release()
    after = await second.acquire("acme", "c1")
    for lease in (other_conversation, other_tenant, after):
        await lease.release()


async def test_a_worker_out_of_turn_slots_says_so_instead_of_blaming_the_conversation(
    lock_pools: tuple[ConversationLocks, ConversationLocks],
) -> None:
    first, _ = lock_pools  # its pool has 4 connections: four turns of different conversations may run at once
    running = [await first.acquire("acme", f"c{i}") for i in range(4)]
    with pytest.raises(WorkerBusyError):
        await first.acquire("acme", "c5")
    await running[0].release()
    fifth = await first.acquire("acme", "c5")  # a slot came free
    for lease in (*running[1:], fifth):
        await lease.release()


async def test_at_capacity_a_message_is_a_503_with_retry_after(tmp_path: Path, schema: str) -> None:
    settings = pg_settings(tmp_path, schema, db_pool_max_size=2, turn_lock_timeout_s=0.3)
    async with in_process(settings) as (app, client):
        locks = services_of(app).backend.locks
        held = [await locks.acquire("default", f"other{i}") for i in range(2)]
        r = await client.post("/v1/conversations/c9/messages", json={"text": "hello"})
        metrics = (await client.get("/metrics")).text
        for lease in held:
            await lease.release()
        after = await client.post("/v1/conversations/c9/messages", json={"text": "hello"})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "capacity" in r.json()["detail"]
    assert "tactful_worker_busy_total 1.0" in metrics
    assert after.status_code == 200


async def test_the_pool_replaces_connections_the_server_dropped(tmp_path: Path, schema: str) -> None:
    # Checked on every checkout here; by default only connections idle for a while are (see the setting).
    async with in_process(pg_settings(tmp_path, schema, db_check_after_idle_s=0)) as (_, client):
        first = await client.post("/v1/conversations/c/messages", json={"text": "hello"})
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (f"tactful/{schema}",),
            ).fetchone()
        second = await client.post(
            "/v1/conversations/c/messages", json={"text": "how do I reset my password?"}
        )
    assert first.status_code == 200
    assert killed is not None and killed[0] >= 1
    assert second.status_code == 200 and second.json()["turn"] == 2


def pg_env(tmp_path: Path, schema: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=PG_URL,
        TACTFUL_DATABASE_SCHEMA=schema,
        TACTFUL_DATA_DIR=str(tmp_path / "data"),
        TACTFUL_RATE_LIMIT_PER_MINUTE="0",
    )


def test_two_server_processes_on_one_postgres_answer_each_message_once_and_survive_a_kill(
    tmp_path: Path, schema: str
) -> None:
    """Concurrent messages to one conversation through two processes: each answered once, in a linear history,
    retries (through either process) replayed; then one process is SIGKILLed and restarted and the
    conversation goes on where it was."""
    env = pg_env(tmp_path, schema)
    servers = [ServerProcess(env, log_path=tmp_path / f"server{i}.log").start() for i in range(2)]
    n = 20

    def post(i: int, server: ServerProcess | None = None) -> httpx.Response:
        url = (server or servers[i % 2]).url
        body = {"text": f"my order {i} has not arrived", "message_id": f"m{i}"}
        return httpx.post(f"{url}/v1/conversations/shared/messages", json=body, timeout=60)

    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            responses = list(pool.map(post, range(n)))
            retries = list(pool.map(lambda i: post(i, servers[(i + 1) % 2]), range(n)))
        servers[0].kill()
        servers[0].start()
        after = post(n, servers[0])
        conversation = httpx.get(f"{servers[1].url}/v1/conversations/shared", timeout=30).json()
    finally:
        for server in servers:
            server.stop()
    assert [r.status_code for r in responses] == [200] * n
    assert [r.json() for r in retries] == [r.json() for r in responses]
    assert after.status_code == 200 and after.json()["turn"] == n + 1
    assert_linear_history(conversation, {f"m{i}": r.json() for i, r in enumerate([*responses, after])})
    assert_no_forks(checkpoint_parents(schema))


async def test_handoff_webhooks_are_leased_and_a_pending_one_is_sent_again_on_postgres(
    tmp_path: Path, schema: str
) -> None:
    async with in_process(pg_settings(tmp_path, schema)) as (app, client):
        await client.post("/v1/conversations/w1/messages", json={"text": "let me talk to a person"})
        (handoff,) = (await client.get("/v1/handoffs")).json()["items"]
        store = services_of(app).backend.store
        old = "2026-01-01T00:00:00+00:00"
        await store.db.execute("UPDATE tactful_handoffs SET webhook = 'pending', created_at = ? WHERE id = ?",
                               (old, handoff["id"]))
        assert await store.lease_webhook(handoff["id"], until="2026-01-01T00:10:00+00:00", expired_before=old)
        assert not await store.lease_webhook(handoff["id"], until="2026-01-01T00:20:00+00:00",
                                             expired_before="2026-01-01T00:05:00+00:00")
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    hooks = {"webhook_url": "http://hooks.test/t", "webhook_secret": "s", "webhook_backoff_max_s": 0.01}
    async with in_process(pg_settings(tmp_path, schema, **hooks),
                          webhook_transport=httpx.MockTransport(handler)) as (_, client):
        for _ in range(300):  # the 2026-01-01 lease is long over: the start-up sweep sends it
            item = (await client.get("/v1/handoffs")).json()["items"][0]
            if item["webhook"] == "delivered":
                break
            await asyncio.sleep(0.02)
    assert item["webhook"] == "delivered"
    assert [r.headers["x-tactful-delivery"] for r in received] == [handoff["id"]]
