"""Concierge alerts: a high-value account showing frustration gets its account manager a short friction
summary.

Delivery goes through :class:`AlertSink` (one async ``send``). The service adapts its signed webhook to it;
this module ships an in-memory sink for tests and a logging sink as the default.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol, runtime_checkable

from tactful.agents.marketing.checker import Verdict
from tactful.agents.marketing.explanations import Explanations
from tactful.agents.marketing.models import ConciergeAlert, MarketingRequest
from tactful.agents.marketing.policy import MarketingPolicy
from tactful.agents.marketing.signals import Signals

ALERT_KIND = "marketing.concierge"

log = logging.getLogger("tactful.marketing.alerts")


@runtime_checkable
class AlertSink(Protocol):
    async def send(self, kind: str, payload: dict[str, object]) -> None: ...


class InMemoryAlertSink:
    """Keeps every alert in ``sent`` (tests, evals)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    async def send(self, kind: str, payload: dict[str, object]) -> None:
        self.sent.append((kind, payload))


class LoggingAlertSink:
    """The default: one JSON log line (INFO) per alert on ``tactful.marketing.alerts``."""

    async def send(self, kind: str, payload: dict[str, object]) -> None:
        log.info("%s %s", kind, json.dumps(payload, default=str, sort_keys=True))


def high_value(request: MarketingRequest, policy: MarketingPolicy) -> bool:
    p = request.profile
    return p.account_value >= policy.concierge.min_value or p.tier in policy.concierge.tiers


def concierge_reason(
    request: MarketingRequest, signals: Signals, verdict: Verdict, policy: MarketingPolicy, *, explain: Explanations
) -> str | None:
    """Why this person's account manager should hear about it now, or None."""
    c = policy.concierge
    if not high_value(request, policy):
        return None
    if signals.frustration >= c.frustration_at_least:
        return explain.say("concierge_frustration", frustration=f"{signals.frustration:.2f}")
    held = [h for h in verdict.holds if h in c.holds]
    if held:
        return explain.say("concierge_hold", holds=", ".join(held))
    if c.on_leaving_after_failures and verdict.reason == "leaving_after_failures":
        return explain.say("concierge_leaving")
    return None


def friction_lines(signals: Signals, *, limit: int = 6) -> list[str]:
    lines = []
    for f in signals.friction[:limit]:
        detail = f" ({f.detail})" if f.detail else ""
        lines.append(f"{f.at:%Y-%m-%d %H:%M}Z {f.label}{detail}")
    return lines


def build_alert(
    request: MarketingRequest,
    signals: Signals,
    verdict: Verdict,
    policy: MarketingPolicy,
    why: str,
    *,
    explain: Explanations,
) -> tuple[ConciergeAlert, dict[str, object]]:
    """The alert as it appears in the decision (not yet delivered) and the payload for the sink."""
    p = request.profile
    urgent = signals.frustration >= policy.concierge.urgent_at or verdict.reason == "leaving_after_failures"
    friction = friction_lines(signals)
    who = p.company or p.account_id or p.person_id
    summary = explain.say(
        "concierge_summary",
        who=who,
        tier=p.tier,
        value=f"{p.account_value:,.0f}",
        state=signals.state,
        why=why,
        friction=len(signals.friction),
        days=f"{policy.lookback_days:g}",
        campaign=request.campaign.campaign_id,
        action=verdict.action,
        reason=verdict.reason,
    )
    manager = p.account_manager
    alert = ConciergeAlert(
        account_manager=manager.name if manager else None,
        priority="urgent" if urgent else "high",
        summary=summary,
        friction=friction,
        delivered=False,
    )
    payload: dict[str, object] = {
        "person_id": p.person_id,
        "account_id": p.account_id,
        "company": p.company,
        "account_manager": manager.model_dump() if manager else None,
        "priority": alert.priority,
        "summary": summary,
        "friction": friction,
        "frustration": signals.frustration,
        "state": signals.state,
        "decision": verdict.action,
        "reason": verdict.reason,
        "request_id": request.request_id,
        "campaign_id": request.campaign.campaign_id,
        "at": signals.now.isoformat(),
    }
    return alert, payload
