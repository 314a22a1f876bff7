"""``POST /v1/marketing/messages`` runs the marketing generator; concierge alerts use the signed webhook."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tactful.service.webhooks import verify
from tests.marketing_helpers import finished_customer, request
from tests.server_helpers import KEY_ACME, TWO_TENANTS, bearer, in_process, service_settings


async def test_marketing_message_is_decided_over_http(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post("/v1/marketing/messages", json=request().model_dump(mode="json"))
        bad = await client.post("/v1/marketing/messages", json={"profile": {}})
    assert r.status_code == 200, r.text
    assert r.json()["action"] in {"send", "suppress", "route_to_rep"}
    assert r.json()["factors"]
    assert bad.status_code == 422 and bad.json()["detail"].startswith("body.")


async def test_a_concierge_alert_is_sent_on_the_signed_webhook(tmp_path: Path) -> None:
    received: list[httpx.Request] = []
    settings = service_settings(
        tmp_path, webhook_url="http://hooks.test/x", webhook_secret="s3cret-s3cret", api_keys=TWO_TENANTS
    )
    transport = httpx.MockTransport(lambda req: (received.append(req), httpx.Response(200))[1])
    async with in_process(settings, webhook_transport=transport) as (_, client):
        r = await client.post(
            "/v1/marketing/messages",
            json=finished_customer().model_dump(mode="json"),
            headers=bearer(KEY_ACME),
        )
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.01)
    assert r.status_code == 200, r.text
    assert r.json()["concierge"]["delivered"] is True
    alert = received[0]
    assert alert.headers["x-tactful-event"] == "marketing.concierge"
    assert verify(
        b"s3cret-s3cret",
        alert.headers["x-tactful-timestamp"],
        alert.content,
        alert.headers["x-tactful-signature"],
    )
    assert json.loads(alert.content)
