"""Helpers for the marketing tests: request builders around one fixed send time, and a shared service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tactful.agents.engine.scripted import ScriptedEngine
from tactful.agents.marketing.alerts import InMemoryAlertSink
from tactful.agents.marketing.models import MarketingDecision, MarketingRequest
from tactful.graphs.marketing_service import MarketingService
from tactful.settings import Settings

# A Tuesday, 15:00 UTC: 11:00 in New York, 17:00 in Berlin — outside quiet hours for both.
SEND_AT = datetime.fromisoformat("2024-05-14T15:00:00+00:00")
FIXED_NOW = datetime.fromisoformat("2024-05-14T15:00:01+00:00")

CAMPAIGNS: dict[str, dict[str, Any]] = {
    "feature": {
        "campaign_id": "feature",
        "goal": "feature_adoption",
        "content": {
            "kind": "product_update",
            "title": "Automations are here",
            "summary": "Build multi-step workflows without code.",
            "link": "https://example.com/automations",
            "cta": "Try automations",
        },
    },
    "winback": {
        "campaign_id": "winback",
        "goal": "winback",
        "content": {
            "kind": "discount_offer",
            "title": "Stay with us",
            "summary": "Exports are faster now.",
            "link": "https://example.com/offer",
            "discount_pct": 20,
        },
    },
    "demo": {
        "campaign_id": "demo",
        "goal": "demo_request",
        "content": {
            "kind": "demo_invite",
            "title": "See it with your data",
            "summary": "20 minutes.",
            "link": "https://example.com/demo",
            "cta": "Book a demo",
        },
    },
    "case_study": {
        "campaign_id": "case",
        "goal": "nurture",
        "content": {
            "kind": "case_study",
            "title": "How Ledgerly cut onboarding time",
            "summary": "A team's first 90 days.",
            "link": "https://example.com/ledgerly",
        },
    },
    "api_help": {
        "campaign_id": "api-help",
        "goal": "support_followup",
        "content": {
            "kind": "help",
            "title": "Fixing common API errors",
            "summary": "The five we see most.",
            "link": "https://docs.example.com/api/troubleshooting",
        },
    },
}


def ago(*, hours: float = 0.0, days: float = 0.0) -> str:
    return (SEND_AT - timedelta(hours=hours, days=days)).isoformat()


def event(kind: str, *, hours: float = 1.0, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "at": ago(hours=hours), **fields}


def request(
    *,
    campaign: str = "feature",
    events: list[dict[str, Any]] | None = None,
    send_at: datetime | str | None = SEND_AT,
    **fields: Any,
) -> MarketingRequest:
    """A request for an ordinary, consenting customer in New York; ``profile`` keys override the profile."""
    profile: dict[str, Any] = {
        "person_id": "p1",
        "first_name": "Ana",
        "company": "Acme",
        "tier": "pro",
        "account_value": 1200,
        "consent": {"email": "granted"},
        "timezone": "America/New_York",
    }
    profile.update(fields.pop("profile", {}))
    data: dict[str, Any] = {
        "request_id": fields.pop("request_id", "req-1"),
        "profile": profile,
        "events": events or [],
        "campaign": CAMPAIGNS[campaign],
        **fields,
    }
    if send_at is not None:
        data["send_at"] = send_at if isinstance(send_at, str) else send_at.isoformat()
    return MarketingRequest.model_validate(data)


def service(
    *, sink: InMemoryAlertSink | None = None, engine: ScriptedEngine | None = None, via_graph: bool = False
) -> MarketingService:
    """The marketing service on the offline engine, or on ``engine`` (a scripted fake) for the copy."""
    return MarketingService(
        Settings(engine="offline"),
        alert_sink=sink or InMemoryAlertSink(),
        engine_factory=engine.bind if engine is not None else None,
        via_graph=via_graph,
        now=lambda: FIXED_NOW,
    )


async def decide(req: MarketingRequest, **kwargs: Any) -> MarketingDecision:
    return await service(**kwargs).decide(req)


def factor(decision: MarketingDecision, name: str) -> str | float | int | bool | None:
    for f in decision.factors:
        if f.name == name:
            return f.value
    raise AssertionError(f"no factor {name!r} in {[f.name for f in decision.factors]}")


# The seeds' two people on the same cancellation-page visit.
def lost_power_user() -> MarketingRequest:
    return request(
        campaign="winback",
        profile={"tier": "business", "account_value": 24000, "engagement": "power"},
        events=[
            event("page_view", hours=0.4, page="/settings/billing"),
            event("rage_click", hours=0.35, count=3),
            event("page_view", hours=0.3, page="/settings/billing/history"),
            event("page_view", hours=0.25, page="/account/cancel"),
        ],
    )


def finished_customer() -> MarketingRequest:
    return request(
        campaign="winback",
        profile={
            "tier": "enterprise",
            "account_value": 90000,
            "lifecycle_stage": "churn_risk",
            "account_manager": {"name": "Dana", "slack": "@dana"},
        },
        events=[
            event("failed_payment", hours=24 * 20),
            event("failed_payment", hours=24 * 12),
            event("failed_payment", hours=24 * 2),
            event(
                "support_conversation",
                hours=24 * 11,
                outcome="unresolved",
                topic="billing",
                text="My card keeps getting declined and nobody answers.",
            ),
            event(
                "support_conversation",
                hours=24 * 9,
                outcome="unresolved",
                topic="billing",
                text="Third time asking: why was I charged twice?",
            ),
            event("page_view", hours=0.25, page="/account/cancel"),
        ],
    )
