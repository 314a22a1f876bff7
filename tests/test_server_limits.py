"""Each class of bad input gets a clear 4xx naming the problem: size limits (413), schema errors (422 with the
field), rate limit (429 + Retry-After) — never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.server_helpers import in_process, service_settings

URL = "/v1/conversations/c1/messages"


async def test_a_body_over_the_limit_is_413(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, max_body_bytes=2048)) as (_, client):
        r = await client.post(URL, json={"text": "x" * 5000})
    assert r.status_code == 413
    assert "2048 bytes" in r.json()["detail"]


async def test_a_text_over_the_limit_is_413_naming_the_field(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, max_message_chars=50)) as (_, client):
        r = await client.post(URL, json={"text": "y" * 51})
        conversation = await client.get("/v1/conversations/c1")
    assert r.status_code == 413
    assert r.json()["detail"] == "text is longer than 50 characters"
    assert conversation.status_code == 404  # nothing was stored


async def test_a_human_reply_over_the_limit_is_413(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, max_message_chars=50)) as (_, client):
        await client.post(URL, json={"text": "let me talk to a person"})
        hid = (await client.get("/v1/handoffs")).json()["items"][0]["id"]
        r = await client.post(f"/v1/handoffs/{hid}/reply", json={"text": "z" * 51})
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.text"),
        ({"text": 5}, "body.text"),
        ({"text": "hi", "colour": "red"}, "body.colour"),
        ({"text": "hi", "message_id": "no spaces allowed"}, "body.message_id"),
        ({"text": "hi", "context": {"value": -1}}, "body.context.value"),
        ({"text": "hi", "context": {"tier": "vip", "favourite": [1]}}, "body.context.favourite"),
        ({"text": "hi", "events": [{"type": "x", "at": "yesterday"}]}, "body.events.0.at"),
        ({"text": "hi", "events": [{"at": "2024-01-01T00:00:00Z"}]}, "body.events.0.type"),
        ({"text": "hi", "events": [{"type": "rage_click"}] * 51}, "body.events"),
        ({"text": "nul \u0000 inside"}, "body.text"),
        ({"text": "lone \ud800 surrogate"}, "body.text"),
    ],
)
async def test_schema_errors_are_422_naming_the_field(
    tmp_path: Path, body: dict[str, object], field: str
) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        # json.dumps escapes non-ASCII, so a lone surrogate travels as the JSON escape \ud800
        r = await client.post(URL, content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field), r.json()
    assert any(e["field"] == field for e in r.json()["errors"])


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "hi"',  # truncated
        b"not json at all",
        b'{"text": "hi", "context": {"value": NaN}}',
        b'{"text": "hi", "context": {"value": Infinity}}',
        b"[1, 2, 3]",
    ],
)
async def test_malformed_json_is_422(tmp_path: Path, raw: bytes) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post(URL, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


@pytest.mark.parametrize("conversation_id", ["has space", "-leading-dash", "x" * 129, "semi;colon"])
async def test_a_malformed_conversation_id_is_422(tmp_path: Path, conversation_id: str) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post(f"/v1/conversations/{conversation_id}/messages", json={"text": "hi"})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("path.conversation_id")


async def test_events_need_exactly_one_target(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        both = await client.post(
            "/v1/events", json={"conversation_id": "a", "person_id": "b", "events": [{"type": "x"}]}
        )
        neither = await client.post("/v1/events", json={"events": [{"type": "x"}]})
        empty = await client.post("/v1/events", json={"conversation_id": "a"})
    assert both.status_code == neither.status_code == empty.status_code == 422
    assert "exactly one of conversation_id or person_id" in both.json()["detail"]
    assert "events, context or both" in empty.json()["detail"]


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 501}, {"priority": "extreme"}, {"status": "lost"}, {"queue": "a b"}]
)
async def test_bad_handoff_filters_are_422(tmp_path: Path, query: dict[str, object]) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.get("/v1/handoffs", params=query)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("query.")


async def test_a_malformed_handoff_id_is_422(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post("/v1/handoffs/not-an-id/claim", json={"agent": "ana"})
    assert r.status_code == 422


async def test_the_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    settings = service_settings(tmp_path, rate_limit_per_minute=1, rate_limit_burst=2)
    async with in_process(settings) as (_, client):
        codes = [(await client.get("/v1/handoffs")).status_code for _ in range(3)]
        limited = await client.get("/v1/handoffs")
        health = await client.get("/healthz")
    assert codes == [200, 200, 429]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "rate limit" in limited.json()["detail"]
    assert health.status_code == 200  # health checks are not rate limited


async def test_unknown_routes_and_methods_are_4xx(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        missing = await client.get("/v1/nothing-here")
        method = await client.delete("/v1/conversations/c1/messages")
    assert missing.status_code == 404
    assert method.status_code == 405
