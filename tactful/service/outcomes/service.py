"""Outcomes for the running service: record people's labels and customers' ratings with the decision they
judge, record each turn's policy version (and the shadow policy's decision), and compute the live summary."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tactful.agents.context import TurnContext
from tactful.agents.policy.files import PolicyBundle
from tactful.graphs.checkpoint import migration_lock
from tactful.graphs.runner import TurnResult
from tactful.service.backend import Backend, open_backend
from tactful.service.errors import NotFoundError
from tactful.service.masking import Masker
from tactful.service.outcomes.gauges import OutcomeGauges
from tactful.service.outcomes.models import FeedbackIn, FeedbackOut, MetricsSummary, RatingIn, RatingOut
from tactful.service.outcomes.replay import INPUT_NAMES, load_policy_file, policy_version, replay
from tactful.service.outcomes.store import OutcomeStore
from tactful.service.outcomes.summary import REGRET_H, summarize
from tactful.service.store import Store
from tactful.settings import Settings

log = logging.getLogger("tactful.outcomes")

SHADOW_FILE = "shadow/support.yaml"


def utcnow() -> datetime:
    return datetime.now(UTC)


def shadow_path(policy_dir: Path, tenant: str) -> Path:
    """``policies/shadow/support.yaml`` for the default tenant, ``policies/tenants/<t>/shadow/support.yaml``."""
    base = policy_dir if tenant == "default" else policy_dir / "tenants" / tenant
    return base / SHADOW_FILE


def judged_factors(decision: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The policy inputs of a decision (numbers, labels, trigger names) and the names of the guards that
    decided, never a guard's matched text."""
    if not decision:
        return []
    out: list[dict[str, Any]] = [{"name": "rule", "value": decision.get("rule"), "effect": decision.get("reason")}]
    for f in decision.get("factors", []):
        kept = f.get("name") in INPUT_NAMES
        out.append({"name": f.get("name"), "value": f.get("value") if kept else None, "effect": f.get("effect")})
    return out


class Outcomes:
    def __init__(
        self,
        *,
        store: OutcomeStore,
        records: Store,
        context_for: Callable[[str], TurnContext],
        masker: Masker,
        gauges: OutcomeGauges,
        policy_dir: Path,
    ) -> None:
        self.store = store
        self.records = records
        self.context_for = context_for
        self.masker = masker
        self.gauges = gauges
        self.policy_dir = policy_dir
        self._shadow: dict[str, PolicyBundle | None] = {}
        self._versions: weakref.WeakKeyDictionary[PolicyBundle, str] = weakref.WeakKeyDictionary()

    def version(self, bundle: PolicyBundle) -> str:
        """The bundle's policy version, hashed once per loaded bundle (not once per turn)."""
        if bundle not in self._versions:
            self._versions[bundle] = policy_version(bundle)
        return self._versions[bundle]

    def live(self, tenant: str) -> PolicyBundle:
        return self.context_for(tenant).bundle

    def shadow(self, tenant: str) -> PolicyBundle | None:
        """The tenant's shadow policy, if it has one (loaded once; a bad file fails with its line)."""
        if tenant not in self._shadow:
            path = shadow_path(self.policy_dir, tenant)
            self._shadow[tenant] = load_policy_file(self.live(tenant), path) if path.is_file() else None
        return self._shadow[tenant]

    # ------------------------------------------------------------------ per turn

    async def on_turn(self, tenant: str, conversation_id: str, result: TurnResult, at: str) -> None:
        """Record the turn's policy version and what the shadow policy would have decided. Never fails the turn."""
        if result.action == "none":
            return
        try:
            live = self.live(tenant)
            shadow = self.shadow(tenant)
            route = replay(shadow, live, result.model_dump(mode="json")) if shadow else None
            await self.store.record_decision(
                tenant,
                conversation_id,
                turn=result.turn,
                action=result.action,
                policy_version=self.version(live),
                shadow_version=self.version(shadow) if shadow else None,
                shadow_action=route.action if route else None,
                shadow_rule=route.rule if route else None,
                at=at,
            )
        except Exception:
            log.exception("conversation %s turn %d: the decision record failed", conversation_id, result.turn)

    async def note_reply(self, tenant: str, handoff_id: str) -> None:
        await self.store.note_reply(tenant, handoff_id, at=utcnow().isoformat())

    # ------------------------------------------------------------------ labels and ratings

    async def _decision(self, tenant: str, conversation_id: str, turn: int) -> dict[str, Any] | None:
        for stored in await self.records.turns(tenant, conversation_id):
            if stored.turn == turn and stored.result.decision:
                return dict(stored.result.decision)
        return None

    async def feedback(self, tenant: str, handoff_id: str, body: FeedbackIn) -> FeedbackOut:
        handoff = await self.records.handoff(tenant, handoff_id)
        if handoff is None:
            raise NotFoundError("handoff", handoff_id)
        decision = await self._decision(tenant, handoff.conversation_id, handoff.turn)
        note = self.masker.text(body.note) if body.note else None
        intent: dict[str, Any] = dict(handoff.packet.get("intent") or {})
        at = utcnow().isoformat()
        version = self.version(self.live(tenant))
        await self.store.record_feedback(
            tenant,
            handoff_id=handoff_id,
            conversation_id=handoff.conversation_id,
            turn=handoff.turn,
            label=body.label,
            note=note,
            agent=body.agent,
            intent=intent.get("label"),
            queue=handoff.queue,
            reason=handoff.reason,
            factors=judged_factors(decision),
            policy_version=version,
            at=at,
        )
        self.gauges.feedback.labels(label=body.label).inc()
        row = await self.store.feedback(tenant, handoff_id)
        assert row is not None
        return FeedbackOut(
            handoff_id=handoff_id,
            conversation_id=handoff.conversation_id,
            turn=handoff.turn,
            label=row["label"],
            note=row["note"],
            agent=row["agent"],
            policy_version=row["policy_version"],
            at=row["at"],
        )

    async def rating(self, tenant: str, conversation_id: str, body: RatingIn) -> RatingOut:
        """The customer's rating of the conversation as it stands (its latest turn)."""
        turn = await self.records.last_turn(tenant, conversation_id)
        if turn == 0:
            raise NotFoundError("conversation", conversation_id)
        decision = None
        for t in range(turn, 0, -1):  # the latest turn the bot decided (a person may own the last ones)
            if decision := await self._decision(tenant, conversation_id, t):
                break
        word = self.masker.text(body.word) if body.word else None
        at = utcnow().isoformat()
        version = self.version(self.live(tenant))
        await self.store.record_rating(
            tenant,
            conversation_id,
            turn=turn,
            score=body.score,
            word=word,
            factors=judged_factors(decision),
            policy_version=version,
            at=at,
        )
        self.gauges.ratings.labels(score=str(body.score)).inc()
        return RatingOut(
            conversation_id=conversation_id, turn=turn, score=body.score, word=word, policy_version=version, at=at
        )

    # ------------------------------------------------------------------ the summary

    async def summary(
        self,
        tenant: str,
        *,
        days: float,
        until: datetime | None = None,
        intent: str | None = None,
        queue: str | None = None,
    ) -> MetricsSummary:
        until = until or utcnow()
        since = until - timedelta(days=days)
        summary = await compute_summary(self.store, tenant, since=since, until=until, intent=intent, queue=queue)
        if intent is None and queue is None:
            self.gauges.publish(tenant, summary.totals)
        return summary


async def compute_summary(
    store: OutcomeStore,
    tenant: str,
    *,
    since: datetime,
    until: datetime,
    intent: str | None = None,
    queue: str | None = None,
    regret_h: float = REGRET_H,
) -> MetricsSummary:
    """Read the window and compute its summary in a worker thread (parsing the turns is CPU work)."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)  # stored times are UTC ISO strings
    window = await store.window(
        tenant,
        since=since.isoformat(),
        until=until.isoformat(),
        regret_until=(until + timedelta(hours=regret_h)).isoformat(),
    )
    return await asyncio.to_thread(
        summarize, window, tenant=tenant, since=since, until=until, regret_h=regret_h, intent=intent, queue=queue
    )


async def open_outcomes(
    settings: Settings,
    records: Store,
    context_for: Callable[[str], TurnContext],
    masker: Masker,
    gauges: OutcomeGauges,
    tenants: Iterable[str],
) -> Outcomes:
    """The outcome tables created (under the migration lock) and every tenant's shadow policy validated now."""
    store = OutcomeStore(records.db)
    async with migration_lock(settings):
        await store.setup()
    outcomes = Outcomes(
        store=store,
        records=records,
        context_for=context_for,
        masker=masker,
        gauges=gauges,
        policy_dir=Path(settings.policy_dir),
    )
    for tenant in tenants:
        outcomes.shadow(tenant)
    return outcomes


@asynccontextmanager
async def open_outcome_store(settings: Settings) -> AsyncIterator[tuple[Backend, OutcomeStore]]:
    """The configured store (SQLite file or PostgreSQL) with the outcome tables, for the CLI commands."""
    async with open_backend(settings) as backend:
        store = OutcomeStore(backend.store.db)
        async with migration_lock(settings):
            await store.setup()
        yield backend, store
