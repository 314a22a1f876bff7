"""Webhook deliveries follow Standard Webhooks: the reference library (``standardwebhooks``) verifies them, with a
``whsec_`` secret or a plain-text one, and refuses a tampered body, another secret or a stale timestamp."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tactful.service.masking import Masker
from tactful.service.webhooks import WebhookSender, signing_key
from tests.server_helpers import in_process, service_settings

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


async def deliver(secret: str) -> httpx.Request:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    sender = WebhookSender(
        url="http://hooks.test/in", secret=secret.encode(), masker=Masker(), transport=httpx.MockTransport(handler)
    )
    assert await sender.send_signed_webhook("handoff", {"tenant": "acme", "n": 1}, delivery_id="h-1")
    await sender.aclose()
    return received[0]


@pytest.mark.parametrize(("secret", "receiver_key"), [(WHSEC, WHSEC), ("plain-text-secret", b"plain-text-secret")])
async def test_the_reference_library_verifies_a_delivery(secret: str, receiver_key: str | bytes) -> None:
    request = await deliver(secret)
    headers = dict(request.headers)
    assert headers["webhook-id"] == "h-1" and headers["webhook-signature"].startswith("v1,")
    payload = Webhook(receiver_key).verify(request.content, headers)
    assert payload == {"tenant": "acme", "n": 1}


async def test_a_tampered_body_another_secret_or_an_old_timestamp_is_refused() -> None:
    request = await deliver(WHSEC)
    headers = dict(request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(request.content.replace(b"acme", b"evil"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(b"another-secret").verify(request.content, headers)
    stale = str(int(datetime.now(UTC).timestamp()) - 3600)
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(request.content, {**headers, "webhook-timestamp": stale})


def test_a_whsec_secret_is_decoded_and_plain_text_is_its_bytes() -> None:
    assert signing_key(WHSEC) == b"0123456789abcdef0123456789abcdef"
    assert signing_key("s3cret") == b"s3cret"


async def test_a_handoff_webhook_from_the_service_verifies_and_keeps_one_id_across_retries(tmp_path: Path) -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(503 if len(received) < 2 else 200)

    settings = service_settings(
        tmp_path, webhook_url="http://hooks.test/tactful", webhook_secret=WHSEC, webhook_backoff_max_s=0.01
    )
    async with in_process(settings, webhook_transport=httpx.MockTransport(handler)) as (_, client):
        await client.post("/v1/conversations/w1/messages", json={"text": "let me talk to a person"})
        for _ in range(500):
            items = (await client.get("/v1/handoffs")).json()["items"]
            if items and items[0]["webhook"] == "delivered":
                break
            await asyncio.sleep(0.01)
    assert len(received) == 2
    assert {r.headers["webhook-id"] for r in received} == {items[0]["id"]}
    payload = Webhook(WHSEC).verify(received[-1].content, dict(received[-1].headers))
    assert payload["handoff"]["id"] == items[0]["id"]
    assert json.loads(received[-1].content)["handoff"]["packet"]["conversation_id"] == "w1"
