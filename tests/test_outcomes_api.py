"""Outcomes over HTTP, on SQLite and on PostgreSQL: a person's label on a handoff and a customer's rating are
stored with the decision they judge (factors, policy version, turn), bad input is a clear 4xx, and
``/v1/metrics/summary`` computes the live figures from the store (also as Prometheus gauges)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tactful.settings import Settings
from tests.server_helpers import KEY_ACME, KEY_GLOBEX, TWO_TENANTS, bearer, in_process, service_settings

PG_URL = os.environ.get("TACTFUL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield service_settings(tmp_path, api_keys=TWO_TENANTS)
        return
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    schema = f"tactful_test_{uuid.uuid4().hex[:12]}"
    yield service_settings(tmp_path, api_keys=TWO_TENANTS, DATABASE_URL=PG_URL, database_schema=schema)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


ACME = bearer(KEY_ACME)


async def say(client: httpx.AsyncClient, cid: str, text: str, account: str) -> dict[str, Any]:
    r = await client.post(
        f"/v1/conversations/{cid}/messages", json={"text": text, "context": {"account_id": account}}, headers=ACME
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def handoff_of(client: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    items = (await client.get("/v1/handoffs", params={"conversation_id": cid}, headers=ACME)).json()["items"]
    assert len(items) == 1
    item: dict[str, Any] = items[0]
    return item


async def test_a_label_on_a_handoff_is_stored_with_its_decision_and_counts_in_precision(settings: Settings) -> None:
    async with in_process(settings) as (_, client):
        assert (await say(client, "c-human", "I want to talk to a person please", "A1"))["action"] == "escalate"
        assert (await say(client, "c-fraud", "someone used my card for a charge I didn't make", "A2"))[
            "action"
        ] == "escalate"
        first = await handoff_of(client, "c-human")
        second = await handoff_of(client, "c-fraud")
        await client.post(f"/v1/handoffs/{first['id']}/reply", json={"text": "Hello", "agent": "Sam"}, headers=ACME)
        await client.post(f"/v1/handoffs/{first['id']}/resolve", json={"agent": "Sam"}, headers=ACME)
        a = await client.post(
            f"/v1/handoffs/{first['id']}/feedback",
            json={"label": "automatable", "note": "card 4111 1111 1111 1111 was fine", "agent": "Sam"},
            headers=ACME,
        )
        b = await client.post(f"/v1/handoffs/{second['id']}/feedback", json={"label": "needed"}, headers=ACME)
        again = await client.post(f"/v1/handoffs/{first['id']}/feedback", json={"label": "needed"}, headers=ACME)
        other_tenant = await client.post(
            f"/v1/handoffs/{first['id']}/feedback", json={"label": "needed"}, headers=bearer(KEY_GLOBEX)
        )
        summary = (await client.get("/v1/metrics/summary", params={"days": 1}, headers=ACME)).json()
    assert a.status_code == 200 and a.json()["turn"] == first["turn"]
    assert "4111 1111" not in a.json()["note"]  # masked like the packet
    assert a.json()["policy_version"].startswith("1:")
    assert b.status_code == 200 and again.json()["label"] == "needed"
    assert other_tenant.status_code == 404
    totals = summary["totals"]
    assert totals["escalations"] == 2 and totals["labelled_escalations"] == 2
    assert totals["escalation_precision"] == 1.0  # the corrected label replaced "automatable"
    assert totals["first_reply_s_median"] is not None and totals["resolution_s_median"] is not None
    assert totals["human_requests"] == 1
    assert summary["labels"] == {"needed": 2}


async def test_the_stored_label_keeps_the_factors_and_no_guard_text(settings: Settings) -> None:
    async with in_process(settings) as (app, client):
        await say(client, "c1", "I was charged twice this month and I want to dispute the duplicate charge", "A1")
        await say(client, "c2", "I want to talk to a person please", "A2")
        decided = await handoff_of(client, "c1")
        guarded = await handoff_of(client, "c2")
        for handoff in (decided, guarded):
            await client.post(f"/v1/handoffs/{handoff['id']}/feedback", json={"label": "wrong_queue"}, headers=ACME)
        row = await app.state.services.outcomes.store.feedback("acme", decided["id"])
        guard_row = await app.state.services.outcomes.store.feedback("acme", guarded["id"])
    assert row["label"] == "wrong_queue" and row["queue"] == decided["queue"] and row["turn"] == decided["turn"]
    factors = {f["name"]: f for f in json.loads(row["factors"])}
    assert {"rule", "intent", "confidence", "frustration", "risk"} <= set(factors)
    assert factors["rule"]["value"] == "high_risk_intent" and factors["intent"]["value"] == "billing_dispute"
    guard_factors = {f["name"]: f for f in json.loads(guard_row["factors"])}
    assert guard_factors["rule"]["value"] == "guard:human_request"
    assert guard_factors["human_request"]["value"] is None  # the guard's matched text is not kept


async def test_bad_outcome_input_is_a_clear_4xx(settings: Settings) -> None:
    async with in_process(settings) as (_, client):
        await say(client, "c1", "I want to talk to a person please", "A1")
        handoff = await handoff_of(client, "c1")
        cases = [
            ("POST", f"/v1/handoffs/{handoff['id']}/feedback", {"label": "great"}),
            ("POST", f"/v1/handoffs/{handoff['id']}/feedback", {"label": "needed", "extra": 1}),
            ("POST", f"/v1/handoffs/{'0' * 32}/feedback", {"label": "needed"}),
            ("POST", "/v1/conversations/c1/rating", {"score": 0}),
            ("POST", "/v1/conversations/c1/rating", {"score": 6}),
            ("POST", "/v1/conversations/c1/rating", {"score": 4, "word": "two words"}),
            ("POST", "/v1/conversations/c1/rating", {"score": "5x"}),
            ("POST", "/v1/conversations/unknown-one/rating", {"score": 4}),
            ("GET", "/v1/metrics/summary?days=0", None),
            ("GET", "/v1/metrics/summary?days=400", None),
            ("GET", "/v1/metrics/summary?until=2026-01-01T00:00:00", None),
            ("GET", "/v1/metrics/summary?intent=bad%20name", None),
            ("GET", "/v1/metrics/summary?until=0001-01-01T00:00:00Z", None),
            ("GET", "/v1/metrics/summary?until=1700000000", None),
        ]
        answers = [await client.request(m, p, json=b, headers=ACME) for m, p, b in cases]
    statuses = [r.status_code for r in answers]
    assert statuses == [422, 422, 404, 422, 422, 422, 422, 404, 422, 422, 422, 422, 422, 422], statuses
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in answers)
    assert "label" in answers[0].json()["detail"] and "score" in answers[3].json()["detail"]


async def test_containment_regret_and_ratings_in_the_summary(settings: Settings) -> None:
    async with in_process(settings) as (_, client):
        await say(client, "c-pw", "How do I reset my password?", "P1")
        await say(client, "c-inv", "where can I download my invoice", "P1")  # P1 came back: c-pw had regret
        await say(client, "c-other", "how do I export my data to csv", "P2")
        rated = await client.post("/v1/conversations/c-other/rating", json={"score": 4, "word": "fine"}, headers=ACME)
        await client.post("/v1/conversations/c-pw/rating", json={"score": 2}, headers=ACME)
        summary = (await client.get("/v1/metrics/summary", params={"days": 2}, headers=ACME)).json()
        filtered = (
            await client.get("/v1/metrics/summary", params={"days": 2, "intent": "password_reset"}, headers=ACME)
        ).json()
        globex = (await client.get("/v1/metrics/summary", headers=bearer(KEY_GLOBEX))).json()
        later = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
        offset = (
            await client.get("/v1/metrics/summary", params={"days": 2, "until": later.isoformat()}, headers=ACME)
        ).json()
        scrape = (await client.get("/metrics", headers=ACME)).text
    assert rated.status_code == 200 and rated.json()["score"] == 4 and rated.json()["turn"] == 1
    totals = summary["totals"]
    assert totals["conversations"] == 3 and totals["contained"] == 3 and totals["regret_contacts"] == 1
    assert totals["containment_without_regret"] == round(2 / 3, 4)
    assert totals["rating_mean"] == 3.0 and totals["failures"]["bad_timing"] == 1
    assert set(summary["by_day"]) == {summary["until"][:10]} or len(summary["by_day"]) >= 1
    assert filtered["totals"]["conversations"] == 1 and "password_reset" in filtered["by_intent"]
    assert globex["totals"]["conversations"] == 0  # tenant-scoped
    assert offset["totals"]["conversations"] == 3  # +05:00 is read as the same instant in UTC
    assert 'tactful_outcome_containment_without_regret{tenant="acme"} 0.6667' in scrape
    assert 'tactful_customer_ratings_total{score="4"} 1.0' in scrape
