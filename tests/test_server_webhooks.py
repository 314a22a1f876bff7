"""Handoff webhooks: signed (HMAC-SHA256), retried with backoff in the background, never delaying a turn."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tactful.service.masking import Masker
from tactful.service.outbox import HandoffOutbox
from tactful.service.webhooks import WebhookSender, install_default_sender, send_signed_webhook, sign, verify
from tactful.settings import Settings
from tests.server_helpers import in_process, service_settings, services_of

SECRET = "whsec-test-0123456789"
CARD = "4111 1111 1111 1111"


def webhook_settings(tmp_path: Path, **overrides: object) -> Settings:
    return service_settings(
        tmp_path,
        webhook_url="http://hooks.test/tactful",
        webhook_secret=SECRET,
        webhook_backoff_max_s=0.01,
        **overrides,
    )


async def wait_for_webhook_status(client: httpx.AsyncClient, status: str) -> dict[str, object]:
    for _ in range(500):
        items = (await client.get("/v1/handoffs")).json()["items"]
        if items and items[0]["webhook"] == status:
            return items[0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.01)
    raise AssertionError(f"webhook never became {status}: {items}")


async def test_a_handoff_posts_a_signed_masked_packet_retrying_until_delivered(tmp_path: Path) -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(503 if len(received) < 3 else 200)

    settings = webhook_settings(tmp_path)
    async with in_process(settings, webhook_transport=httpx.MockTransport(handler)) as (_, client):
        turn = await client.post(
            "/v1/conversations/w1/messages",
            json={"text": f"let me talk to a person, my card {CARD} was charged"},
        )
        handoff = await wait_for_webhook_status(client, "delivered")
    assert turn.json()["action"] == "escalate"
    assert len(received) == 3
    last = received[-1]
    body = last.content
    assert last.headers["x-tactful-event"] == "handoff"
    assert last.headers["x-tactful-delivery"] == handoff["id"]
    assert verify(
        SECRET.encode(), last.headers["x-tactful-timestamp"], body, last.headers["x-tactful-signature"]
    )
    payload = json.loads(body)
    assert payload["tenant"] == "default"
    assert payload["handoff"]["id"] == handoff["id"]
    assert payload["handoff"]["packet"]["conversation_id"] == "w1"
    assert "4111 1111 1111 1111" not in body.decode() and "1111" in body.decode()


async def test_a_dead_webhook_neither_delays_nor_fails_the_turn(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(200)

    async with in_process(webhook_settings(tmp_path), webhook_transport=httpx.MockTransport(hang)) as (
        _,
        client,
    ):
        turn = await client.post("/v1/conversations/w1/messages", json={"text": "let me talk to a person"})
        handoff = (await client.get("/v1/handoffs")).json()["items"][0]
    assert turn.status_code == 200 and turn.json()["action"] == "escalate"
    assert handoff["webhook"] == "pending"


async def test_a_refusing_webhook_is_marked_failed_after_its_attempts(tmp_path: Path) -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500)

    settings = webhook_settings(tmp_path, webhook_max_attempts=3)
    async with in_process(settings, webhook_transport=httpx.MockTransport(refuse)) as (_, client):
        turn = await client.post("/v1/conversations/w1/messages", json={"text": "let me talk to a person"})
        await wait_for_webhook_status(client, "failed")
        metrics = (await client.get("/metrics")).text
    assert turn.status_code == 200
    assert calls == 3
    assert 'tactful_webhook_deliveries_total{kind="handoff",outcome="failed"} 1.0' in metrics


async def test_send_signed_webhook_is_reusable_for_other_kinds() -> None:
    seen: list[httpx.Request] = []
    sender = WebhookSender(
        url="http://hooks.test/x",
        secret=b"k",
        masker=Masker(emails=True),
        backoff_max_s=0.01,
        transport=httpx.MockTransport(lambda request: (seen.append(request), httpx.Response(204))[1]),
    )
    install_default_sender(sender)
    try:
        task = send_signed_webhook("concierge_alert", {"lead": "ana@example.com", "score": 0.9})
        assert task is not None
        assert await task is True
    finally:
        install_default_sender(None)
        await sender.aclose()
    assert seen[0].headers["x-tactful-event"] == "concierge_alert"
    assert json.loads(seen[0].content) == {"lead": "[EMAIL]", "score": 0.9}
    assert send_signed_webhook("concierge_alert", {}) is None  # no webhook configured: nothing sent


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"s", b"123.{}", hashlib.sha256).hexdigest()
    assert sign(b"s", "123", b"{}") == f"sha256={expected}"
    assert not verify(b"other", "123", b"{}", sign(b"s", "123", b"{}"))


async def test_a_webhook_lease_is_held_by_one_worker_until_it_expires(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (app, client):
        await client.post("/v1/conversations/l1/messages", json={"text": "let me talk to a person"})
        store = services_of(app).backend.store
        (handoff,) = (await client.get("/v1/handoffs")).json()["items"]
        assert await store.lease_webhook(handoff["id"], until="2026-01-01T00:10:00+00:00",
                                         expired_before="2026-01-01T00:00:00+00:00")
        # another worker, while the lease runs: refused
        assert not await store.lease_webhook(handoff["id"], until="2026-01-01T00:20:00+00:00",
                                             expired_before="2026-01-01T00:05:00+00:00")
        # after it ran out: taken over
        assert await store.lease_webhook(handoff["id"], until="2026-01-01T00:30:00+00:00",
                                         expired_before="2026-01-01T00:15:00+00:00")


async def test_a_handoff_left_pending_by_a_dead_worker_is_sent_again_at_start_up(tmp_path: Path) -> None:
    # The first service escalates with no webhook configured, then its row is made to look like a dead worker's:
    # pending, created long ago, never leased.
    async with in_process(service_settings(tmp_path)) as (app, client):
        await client.post("/v1/conversations/p1/messages", json={"text": "let me talk to a person"})
        (handoff,) = (await client.get("/v1/handoffs")).json()["items"]
        db = services_of(app).backend.store.db
        await db.execute("UPDATE tactful_handoffs SET webhook = 'pending', created_at = ? WHERE id = ?",
                         ("2026-01-01T00:00:00+00:00", handoff["id"]))
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    async with in_process(webhook_settings(tmp_path), webhook_transport=httpx.MockTransport(handler)) as (_, client):
        delivered = await wait_for_webhook_status(client, "delivered")
    assert delivered["id"] == handoff["id"]
    assert [r.headers["x-tactful-delivery"] for r in received] == [handoff["id"]]
    assert json.loads(received[0].content)["handoff"]["packet"]["conversation_id"] == "p1"


async def test_a_delivered_handoff_is_not_sent_again(tmp_path: Path) -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    settings = webhook_settings(tmp_path, webhook_sweep_s=0.05)
    async with in_process(settings, webhook_transport=httpx.MockTransport(handler)) as (app, client):
        await client.post("/v1/conversations/d1/messages", json={"text": "let me talk to a person"})
        await wait_for_webhook_status(client, "delivered")
        await asyncio.sleep(0.3)  # several sweeps
        outbox_sweep = await HandoffOutbox(services_of(app).backend.store, services_of(app).webhooks,
                                           sweep_s=1.0).sweep()  # type: ignore[arg-type]
    assert outbox_sweep == 0
    assert len(received) == 1
