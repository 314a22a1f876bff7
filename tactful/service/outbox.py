"""Handoff webhooks that survive a restart: the handoff row is the outbox.

A handoff is stored with ``webhook = 'pending'`` in the same turn that creates it; the delivery runs in the
background (``WebhookSender``: signed, retried with backoff) and records ``delivered`` or ``failed`` at the end.
A worker that dies in between leaves the row pending. Every worker sweeps for such rows at start-up and then every
``webhook_sweep_s``: a pending handoff whose delivery lease has run out (or that never got one) is leased by one
worker — an atomic upsert, so two workers never resend the same one at once — and sent again with the same
``X-Tactful-Delivery`` id. Delivery is therefore at least once; receivers de-duplicate on that id.

A lease lasts twice as long as the sender can spend on one delivery (every attempt timing out, every backoff at its
longest; at most 30 s more than that), so a live worker's retries are never taken over. A worker stopped gracefully
leaves its unfinished deliveries pending too; they go out again once their lease ends.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from tactful.service.models import HandoffOut
from tactful.service.store import Store
from tactful.service.webhooks import WebhookSender

log = logging.getLogger("tactful.webhooks")

MAX_LEASE_MARGIN_S = 30.0


def delivery_window_s(sender: WebhookSender) -> float:
    """How long a delivery lease lasts: the longest one delivery can take (every attempt timing out, every wait
    at its cap, with jitter), and as much again up to 30 s."""
    waits = sum(min(sender.backoff_max_s, 0.5 * 2**i + 1.0) for i in range(sender.max_attempts - 1))
    longest = waits + sender.max_attempts * sender.timeout_s
    return longest + min(longest, MAX_LEASE_MARGIN_S)


def _iso(at: datetime) -> str:
    return at.isoformat()


class HandoffOutbox:
    """Sends handoff webhooks under a lease and re-sends the ones a dead worker left pending."""

    def __init__(self, store: Store, sender: WebhookSender, *, sweep_s: float, batch: int = 50) -> None:
        self.store = store
        self.sender = sender
        self.sweep_s = sweep_s
        self.batch = batch
        self.window = timedelta(seconds=delivery_window_s(sender))
        self._sweeper: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[bool]] = set()

    def send(self, tenant: str, handoff: HandoffOut) -> asyncio.Task[bool]:
        """Deliver a handoff created just now (its row says ``pending``); returns the background task."""

        async def leased_delivery() -> bool:
            now = datetime.now(UTC)
            await self.store.lease_webhook(handoff.id, until=_iso(now + self.window), expired_before=_iso(now))
            return await self._send(tenant, handoff)

        task = asyncio.create_task(leased_delivery())
        self._deliveries.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._deliveries.discard)
        return task

    def _send(self, tenant: str, handoff: HandoffOut) -> asyncio.Task[bool]:
        async def done(ok: bool) -> None:
            await self.store.set_webhook_status(handoff.id, "delivered" if ok else "failed")

        return self.sender.send_signed_webhook(
            "handoff",
            {"tenant": tenant, "handoff": handoff.model_dump(mode="json", exclude={"webhook"})},
            delivery_id=handoff.id,
            on_done=done,
        )

    async def sweep(self) -> int:
        """Lease and re-send pending handoffs nobody is delivering; returns how many were re-sent."""
        now = datetime.now(UTC)
        stale = await self.store.stale_webhooks(
            expired_before=_iso(now), created_before=_iso(now - self.window), limit=self.batch
        )
        resent = 0
        for tenant, handoff in stale:
            if await self.store.lease_webhook(handoff.id, until=_iso(now + self.window), expired_before=_iso(now)):
                log.info("re-sending the handoff webhook %s left pending by an earlier worker", handoff.id)
                self._send(tenant, handoff)
                resent += 1
        return resent

    def start(self) -> None:
        """Sweep now and then every ``sweep_s`` until ``aclose``."""
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the sweeping
                log.exception("sweeping pending handoff webhooks failed; trying again in %.0f s", self.sweep_s)
            await asyncio.sleep(self.sweep_s)

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
