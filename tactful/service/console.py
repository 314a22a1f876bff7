"""The agent console at ``/console``: a static page (plain HTML, CSS and JavaScript in ``static/console/``, no
build step) that works the handoff queue through the service's own JSON API, and the two endpoints only the
console needs — who the caller is (``/console/api/session``) and a live feed of new and changed handoffs
(``/console/api/stream``, server-sent events), tenant-scoped by the same API keys as the rest of the service.

The feed polls the handoff table (``Settings.console_poll_interval_s``) rather than listening in-process, so a
handoff created by any worker process, on SQLite or PostgreSQL, reaches every open console.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import anyio
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent

from tactful.service.deps import ServicesDep, TenantDep
from tactful.service.models import HandoffOut
from tactful.service.routes import errors
from tactful.service.store import Row, Store

log = logging.getLogger("tactful.console")

STATIC_DIR = Path(__file__).resolve().parent / "static" / "console"
ASSETS: dict[str, str] = {
    "console.css": "text/css",
    "main.js": "text/javascript",
    "api.js": "text/javascript",
    "views.js": "text/javascript",
    "format.js": "text/javascript",
    "chart.js": "text/javascript",
}
SECURITY_HEADERS = {
    # Customer text is shown on this page: no inline script, nothing from elsewhere, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
LOOKBACK = timedelta(seconds=5)  # rows stamped just before a later commit are still seen
MAX_ROWS_PER_POLL = 500
SHUTDOWN_GRACE_S = 2.0  # how long a stream may take to end after the server starts shutting down

router = APIRouter(tags=["console"])


class ConsoleSession(BaseModel):
    """Who the console is talking as."""

    tenant: str
    single_tenant: bool


class HandoffChange(BaseModel):
    """One event of the live feed: a handoff was created, or changed (claimed, replied to, closed). It carries
    the whole handoff, so an open console updates its list without asking the API again."""

    kind: Literal["created", "updated"]
    handoff: HandoffOut


class ConversationChange(BaseModel):
    """One event of the live feed: a handed-off conversation moved on (a customer message, a bot reply)."""

    conversation_id: str
    mode: Literal["bot", "human"]
    turn: int
    updated_at: str


HANDOFF_ROWS = (
    "SELECT id, created_at, updated_at FROM tactful_handoffs WHERE tenant = ? AND updated_at >= ? "
    "ORDER BY updated_at, id LIMIT ?"
)
CONVERSATION_ROWS = (
    "SELECT c.conversation_id, c.mode, c.turn, c.updated_at FROM tactful_conversations c "
    "WHERE c.tenant = ? AND c.updated_at >= ? AND EXISTS (SELECT 1 FROM tactful_handoffs h "
    "WHERE h.tenant = c.tenant AND h.conversation_id = c.conversation_id) "
    "ORDER BY c.updated_at, c.conversation_id LIMIT ?"
)


class _Watermark:
    """Which (id, updated_at) pairs were reported, and from when to read next: a few seconds before the newest
    change seen, so a row stamped earlier but committed later is not missed; each pair is reported once."""

    def __init__(self) -> None:
        self.newest = ""
        self.pairs: set[tuple[str, str]] = set()

    def since(self) -> str:
        return (datetime.fromisoformat(self.newest) - LOOKBACK).isoformat() if self.newest else ""

    def fresh(self, rows: list[Row], key: str) -> list[Row]:
        out = [r for r in rows if (r[key], r["updated_at"]) not in self.pairs]
        for r in out:
            self.pairs.add((r[key], r["updated_at"]))
            self.newest = max(self.newest, r["updated_at"])
        floor = self.since()
        self.pairs = {p for p in self.pairs if p[1] >= floor}
        return out


class HandoffFeed:
    """Finds what changed for one tenant's handoff queue since the last look: handoffs created or changed
    (claimed, replied to, closed), and handed-off conversations that moved on."""

    def __init__(self, store: Store, tenant: str) -> None:
        self.store = store
        self.tenant = tenant
        self._handoffs = _Watermark()
        self._conversations = _Watermark()

    async def _fresh(self, sql: str, mark: _Watermark, key: str) -> list[Row]:
        rows = await self.store.db.fetchall(sql, (self.tenant, mark.since(), MAX_ROWS_PER_POLL))
        return mark.fresh(rows, key)

    async def start(self) -> None:
        """Take the current state as known: only later changes are reported."""
        marks = (("tactful_handoffs", self._handoffs), ("tactful_conversations", self._conversations))
        for table, mark in marks:
            rows = await self.store.db.fetchall(
                f"SELECT MAX(updated_at) AS newest FROM {table} WHERE tenant = ?", (self.tenant,)
            )
            mark.newest = str(rows[0]["newest"] or "") if rows else ""
        await self.poll()

    async def poll(self) -> list[HandoffChange | ConversationChange]:
        handoffs = await self._fresh(HANDOFF_ROWS, self._handoffs, "id")
        conversations = await self._fresh(CONVERSATION_ROWS, self._conversations, "conversation_id")
        changes: list[HandoffChange | ConversationChange] = []
        for row in handoffs:
            handoff = await self.store.handoff(self.tenant, row["id"])
            if handoff is not None:
                created = row["created_at"] == row["updated_at"]
                changes.append(HandoffChange(kind="created" if created else "updated", handoff=handoff))
        changes.extend(ConversationChange(**r) for r in conversations)
        return changes


async def feed_events(
    feed: HandoffFeed, *, tenant: str, interval_s: float, stop: anyio.Event | None = None
) -> AsyncGenerator[ServerSentEvent, None]:
    """``hello`` once the feed is primed (reload the list now), then a ``handoff`` or ``conversation`` event
    per change, until ``stop`` is set (server shutdown). A database error ends the stream (the page
    reconnects); it never becomes a 500 mid-stream."""
    stop = stop or anyio.Event()
    try:
        await feed.start()
        yield ServerSentEvent(data=json.dumps({"tenant": tenant}), event="hello")
        while True:
            with anyio.move_on_after(interval_s):
                await stop.wait()
            if stop.is_set():
                return
            for change in await feed.poll():
                kind = "handoff" if isinstance(change, HandoffChange) else "conversation"
                yield ServerSentEvent(data=change.model_dump_json(), event=kind)
    except Exception as exc:
        log.warning("console feed for tenant %s stopped: %s: %s", tenant, type(exc).__name__, exc)


def _asset(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)


@router.api_route("/console", methods=["GET", "HEAD"], include_in_schema=False)
async def console_page() -> FileResponse:
    """The console's single page; it asks for the API key itself (kept in the tab's sessionStorage)."""
    return _asset("index.html", "text/html; charset=utf-8")


@router.api_route("/console/assets/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def console_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no console asset named {name!r}")
    return _asset(name, f"{media_type}; charset=utf-8")


@router.get(
    "/console/api/session",
    response_model=ConsoleSession,
    summary="The caller's tenant (console sign-in check)",
    responses=errors(401, 429),
)
async def console_session(tenant: TenantDep, services: ServicesDep) -> ConsoleSession:
    return ConsoleSession(tenant=tenant, single_tenant=services.keyring.single_tenant)


@router.get(
    "/console/api/stream",
    summary="Live feed of new and changed handoffs (server-sent events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`hello` when connected, then a `handoff` event (a HandoffChange) per change",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(401, 429),
    },
)
async def console_stream(tenant: TenantDep, services: ServicesDep) -> EventSourceResponse:
    feed = HandoffFeed(services.backend.store, tenant)
    stop = anyio.Event()  # set by sse-starlette when the server shuts down: the stream ends cleanly
    return EventSourceResponse(
        feed_events(feed, tenant=tenant, interval_s=services.settings.console_poll_interval_s, stop=stop),
        ping=services.settings.console_keepalive_s,
        shutdown_event=stop,
        shutdown_grace_period=SHUTDOWN_GRACE_S,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
