"""The sentences that explain a marketing decision (``prompts/marketing.yaml``, section ``explanations``): one per
outcome, and the short reasons they quote. Placeholders are checked at start-up (file and line on a typo)."""

from __future__ import annotations

from typing import ClassVar

from tactful.agents.notes import Texts

_ALLOWED: dict[str, frozenset[str]] = {
    "leaving_after_failures": frozenset({"state_reason", "failures"}),
    "rep_topic": frozenset({"label", "evidence"}),
    "unsubscribed_all": frozenset(),
    "opted_out": frozenset({"channel"}),
    "no_consent": frozenset({"channel"}),
    "no_explicit_consent": frozenset({"channel"}),
    "hold": frozenset({"why"}),
    "quiet_hours": frozenset({"local_time", "timezone", "start", "end", "channel"}),
    "stage_mismatch": frozenset({"stage", "kinds", "kind"}),
    "discount_not_allowed": frozenset({"why"}),
    "send_service": frozenset({"why"}),
    "send_help": frozenset({"state", "state_reason", "topic"}),
    "send_low_pressure": frozenset({"state_reason"}),
    "send_campaign": frozenset({"channel", "stage"}),
    "guard_blocked": frozenset({"detail"}),
    "hold_events": frozenset({"label", "count", "type", "hours"}),
    "hold_frustration": frozenset({"label", "frustration"}),
    "discount_over_limit": frozenset({"pct", "max_pct"}),
    "discount_tier": frozenset({"tier"}),
    "discount_leaving_after_failures": frozenset(),
    "discount_leaving": frozenset(),
    "concierge_summary": frozenset(
        {"who", "tier", "value", "state", "why", "friction", "days", "campaign", "action", "reason"}
    ),
    "concierge_frustration": frozenset({"frustration"}),
    "concierge_hold": frozenset({"holds"}),
    "concierge_leaving": frozenset(),
}


class Explanations(Texts):
    """Decision sentences (first group), the reasons they quote (``hold_*``, ``discount_*``) and the account
    manager's alert (``concierge_*``)."""

    PLACEHOLDERS: ClassVar[dict[str, frozenset[str]]] = _ALLOWED

    leaving_after_failures: str
    rep_topic: str
    unsubscribed_all: str
    opted_out: str
    no_consent: str
    no_explicit_consent: str
    hold: str
    quiet_hours: str
    stage_mismatch: str
    discount_not_allowed: str
    send_service: str
    send_help: str
    send_low_pressure: str
    send_campaign: str
    guard_blocked: str
    hold_events: str
    hold_frustration: str
    discount_over_limit: str
    discount_tier: str
    discount_leaving_after_failures: str
    discount_leaving: str
    concierge_summary: str
    concierge_frustration: str
    concierge_hold: str
    concierge_leaving: str

    def say(self, name: str, **values: object) -> str:
        text: str = getattr(self, name)
        return text.format(**values)
