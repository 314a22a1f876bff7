"""Numbers a client sends are bounded at the edge (to the I-JSON range, ±(2**53 - 1), well inside 64 bits): an
integer beyond 64 bits (as a JSON number of any length) is a 422 naming the field, never a 500 when the checkpoint
is written — and never held for a person's later first message, which would turn every first message of that
person into a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server_helpers import in_process, service_settings

URL = "/v1/conversations/c1/messages"
BEYOND_64_BITS = 2**64


def fields(body: dict[str, object]) -> list[object]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return [e["field"] for e in errors]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "hi", "context": {"seats": BEYOND_64_BITS}}, "body.context.seats"),
        ({"text": "hi", "context": {"seats": -BEYOND_64_BITS}}, "body.context.seats"),
        ({"text": "hi", "events": [{"type": "api_error", "detail": {"count": BEYOND_64_BITS}}]},
         "body.events.0.detail.count"),
    ],
)
async def test_an_integer_beyond_64_bits_is_422_naming_the_field(
    tmp_path: Path, payload: dict[str, object], field: str
) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post(URL, json=payload)
        after = await client.post(URL, json={"text": "hello"})
    assert r.status_code == 422, r.text
    assert fields(r.json()) == [field]
    assert after.status_code == 200  # the conversation is not poisoned


async def test_a_600_digit_json_number_is_422_naming_the_field(tmp_path: Path) -> None:
    raw = '{"text": "hi", "context": {"seats": ' + "7" * 600 + "}}"
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert fields(r.json()) == ["body.context.seats"]


async def test_the_extremes_of_the_range_are_kept(tmp_path: Path) -> None:
    context = {"account_id": "p1", "seats": 2**53 - 1, "floor": -(2**53 - 1), "ratio": 0.25}
    async with in_process(service_settings(tmp_path)) as (_, client):
        r = await client.post(URL, json={"text": "hi", "context": context})
        stored = await client.get("/v1/conversations/c1")
    assert r.status_code == 200, r.text
    assert stored.json()["state"]["context"] == context


async def test_held_events_are_validated_when_held(tmp_path: Path) -> None:
    person = {"person_id": "p-1"}
    async with in_process(service_settings(tmp_path)) as (_, client):
        bad_event = await client.post(
            "/v1/events", json={**person, "events": [{"type": "failed_payment", "detail": {"n": BEYOND_64_BITS}}]}
        )
        bad_context = await client.post(
            "/v1/events", json={**person, "context": {"account_id": "p-1", "seats": BEYOND_64_BITS}}
        )
        first = await client.post(URL, json={"text": "hello", "context": {"account_id": "p-1"}})
    assert bad_event.status_code == 422 and fields(bad_event.json()) == ["body.events.0.detail.n"]
    assert bad_context.status_code == 422 and fields(bad_context.json()) == ["body.context.seats"]
    assert first.status_code == 200, first.text


async def test_the_schema_states_the_bounds(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    attribute = _number_branches(schemas["AccountContextIn"]["additionalProperties"])
    detail = _number_branches(schemas["EventIn"]["properties"]["detail"])
    assert len(attribute) == len(detail) == 1
    assert all(b["minimum"] == -(2**53 - 1) and b["maximum"] == 2**53 - 1 for b in attribute + detail)


def _number_branches(node: object) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if isinstance(node, dict):
        if node.get("type") == "number":
            out.append(node)
        for value in node.values():
            out.extend(_number_branches(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_number_branches(value))
    return out
