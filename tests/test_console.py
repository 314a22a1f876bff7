"""The agent console's server side, in-process: the page and its assets, the sign-in check, and the live feed
of handoff changes (tenant-scoped, each change reported once). The browser test is test_console_browser.py."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tactful.agents.state import HandoffPacket
from tactful.service.console import ConversationChange, HandoffChange, HandoffFeed, feed_events
from tactful.service.store import SqliteDatabase, Store
from tests.server_helpers import KEY_ACME, TWO_TENANTS, bearer, in_process, service_settings


def packet(conversation_id: str, *, queue: str = "billing", priority: str = "high") -> HandoffPacket:
    return {
        "conversation_id": conversation_id,
        "summary": "Customer was charged twice.",
        "intent": None,
        "sentiment_trend": {
            "trend": "rising", "label": "frustrated", "frustration": 0.7, "history": [0.2, 0.7]
        },
        "account": {"name": "Dana"},
        "tried": ["Explained the invoice"],
        "reason": "human_requested",
        "recommended_next_step": "Refund the duplicate charge.",
        "confidence": 0.9,
        "priority": priority,  # type: ignore[typeddict-item]
        "queue": queue,
        "transcript_ref": f"/v1/conversations/{conversation_id}",
        "transcript": [],
        "created_at": "2026-01-01T00:00:00+00:00",
        "completeness": 1.0,
        "missing": [],
    }


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = await SqliteDatabase.open(tmp_path / "feed.db")
    store = Store(db)
    await store.setup()
    yield store
    await db.aclose()


async def add_handoff(store: Store, tenant: str, conversation_id: str, at: str, *, turn: int = 1) -> str:
    handoff = await store.create_handoff(
        tenant, conversation_id, turn=turn, packet=packet(conversation_id), webhook="none", at=at
    )
    return handoff.id


# ------------------------------------------------------------------------------------- page and assets


async def test_console_page_is_served_with_a_strict_content_security_policy(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        page = await client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert '<main id="main"' in page.text and "/console/assets/main.js" in page.text


async def test_console_assets_are_served_and_unknown_names_are_404(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        script = await client.get("/console/assets/main.js")
        style = await client.get("/console/assets/console.css")
        unknown = await client.get("/console/assets/server.py")
        traversal = await client.get("/console/assets/..%2F..%2Fconsole.py")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert unknown.status_code == traversal.status_code == 404
    assert unknown.json()["detail"] == "no console asset named 'server.py'"


async def test_every_file_the_page_loads_is_a_served_asset(tmp_path: Path) -> None:
    static = Path(__file__).resolve().parent.parent / "tactful" / "service" / "static" / "console"
    wanted = set(re.findall(r'"/console/assets/([^"]+)"', (static / "index.html").read_text()))
    for js in static.glob("*.js"):
        wanted.update(re.findall(r'from "\./([^"]+)"', js.read_text()))
    async with in_process(service_settings(tmp_path)) as (_, client):
        statuses = {name: (await client.get(f"/console/assets/{name}")).status_code for name in wanted}
    assert {"main.js", "console.css", "views.js"} <= wanted
    assert all(code == 200 for code in statuses.values()), statuses


# --------------------------------------------------------------------------------- sign-in and tenants


async def test_console_session_needs_a_known_key_when_keys_are_configured(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, api_keys=TWO_TENANTS)) as (_, client):
        missing = await client.get("/console/api/session")
        wrong = await client.get("/console/api/session", headers=bearer("not-a-key-of-anyone-at-all"))
        ok = await client.get("/console/api/session", headers=bearer(KEY_ACME))
    assert missing.status_code == wrong.status_code == 401
    assert ok.json() == {"tenant": "acme", "single_tenant": False}


async def test_console_session_in_single_tenant_mode_needs_no_key(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        session = await client.get("/console/api/session")
    assert session.json() == {"tenant": "default", "single_tenant": True}


async def test_console_stream_without_a_key_is_401_not_a_stream(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, api_keys=TWO_TENANTS)) as (_, client):
        stream = await client.get("/console/api/stream")
    assert stream.status_code == 401
    assert stream.headers["content-type"] == "application/problem+json"  # an RFC 9457 problem, not a stream


# --------------------------------------------------------------------------------------- the live feed


async def test_feed_reports_a_new_handoff_once_and_its_claim_as_an_update(store: Store) -> None:
    feed = HandoffFeed(store, "acme")
    await feed.start()
    hid = await add_handoff(store, "acme", "c-1", "2026-01-01T10:00:00.000001+00:00")
    first = await feed.poll()
    again = await feed.poll()
    await store.claim("acme", hid, agent="alex", at="2026-01-01T10:01:00.000001+00:00")
    claimed = await feed.poll()
    created = [(c.kind, c.handoff.id, c.handoff.status) for c in first if isinstance(c, HandoffChange)]
    assert created == [("created", hid, "open")]
    assert again == []
    handoffs = [c for c in claimed if isinstance(c, HandoffChange)]
    updated = [(c.kind, c.handoff.status, c.handoff.assignee) for c in handoffs]
    assert updated == [("updated", "claimed", "alex")]


async def test_feed_starts_after_the_handoffs_that_already_exist(store: Store) -> None:
    await add_handoff(store, "acme", "old", "2026-01-01T09:00:00.000001+00:00")
    feed = HandoffFeed(store, "acme")
    await feed.start()
    assert await feed.poll() == []


async def test_feed_sees_a_handoff_stamped_before_one_it_already_reported(store: Store) -> None:
    """Two workers: the later-stamped row commits first; the earlier-stamped one must still be reported."""
    feed = HandoffFeed(store, "acme")
    await feed.start()
    late = await add_handoff(store, "acme", "c-late", "2026-01-01T10:00:02.000001+00:00")
    assert [c.handoff.id for c in await feed.poll() if isinstance(c, HandoffChange)] == [late]
    early = await add_handoff(store, "acme", "c-early", "2026-01-01T10:00:01.000001+00:00")
    assert [c.handoff.id for c in await feed.poll() if isinstance(c, HandoffChange)] == [early]


async def test_feed_is_scoped_to_its_tenant(store: Store) -> None:
    feed = HandoffFeed(store, "acme")
    await feed.start()
    await add_handoff(store, "globex", "c-1", "2026-01-01T10:00:00.000001+00:00")
    await store.touch_conversation(
        "globex", "c-1", person_id=None, mode="human", turn=2, at="2026-01-01T10:00:00.000002+00:00"
    )
    assert await feed.poll() == []


async def test_feed_reports_handed_off_conversations_that_move_on_and_no_others(store: Store) -> None:
    await add_handoff(store, "acme", "handed-off", "2026-01-01T10:00:00.000001+00:00")
    feed = HandoffFeed(store, "acme")
    await feed.start()
    for cid in ("handed-off", "bot-only"):
        await store.touch_conversation(
            "acme", cid, person_id=None, mode="human", turn=3, at="2026-01-01T10:05:00.000001+00:00"
        )
    changes = await feed.poll()
    assert changes == [
        ConversationChange(
            conversation_id="handed-off", mode="human", turn=3, updated_at="2026-01-01T10:05:00.000001+00:00"
        )
    ]


async def test_feed_events_say_hello_then_send_each_change(store: Store) -> None:
    events = feed_events(HandoffFeed(store, "acme"), tenant="acme", interval_s=0.01)
    try:
        hello = await asyncio.wait_for(anext(events), 30)
        hid = await add_handoff(store, "acme", "c-9", "2026-01-01T10:00:00.000001+00:00")
        change = await asyncio.wait_for(anext(events), 30)
    finally:
        await events.aclose()
    assert (hello.event, json.loads(str(hello.data))) == ("hello", {"tenant": "acme"})
    assert change.event == "handoff"
    assert json.loads(str(change.data))["handoff"]["id"] == hid


async def test_feed_events_end_quietly_when_the_database_goes_away(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(tmp_path / "gone.db")
    store = Store(db)
    await store.setup()
    events = feed_events(HandoffFeed(store, "acme"), tenant="acme", interval_s=0.01)
    hello = await asyncio.wait_for(anext(events), 30)
    await db.aclose()
    rest = [e async for e in events]
    assert hello.event == "hello" and rest == []


async def test_feed_events_end_cleanly_when_the_server_stops(store: Store) -> None:
    stop = anyio.Event()
    events = feed_events(HandoffFeed(store, "acme"), tenant="acme", interval_s=3600, stop=stop)
    hello = await asyncio.wait_for(anext(events), 30)
    stop.set()
    rest = [e async for e in events]
    assert hello.event == "hello" and rest == []
