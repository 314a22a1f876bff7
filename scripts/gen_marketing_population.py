"""Generate a synthetic population of marketing requests (JSONL) for ``tactful marketing batch`` and its
benchmark.

A realistic mix, deterministic for a seed: most people are ordinary customers; some are leads at different
buying stages; some have had failed payments, bad support conversations, API error bursts or product errors; a
few are on the cancellation page (lost power users and customers who have had enough); a few ask for things
only a person can give (pricing exceptions, custom terms, procurement, legal review, security documents);
consent varies by channel; people live in time zones around the world and every campaign goes out at one UTC
time.

    python scripts/gen_marketing_population.py --count 10000 --out var/marketing_population.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

SEND_AT = datetime.fromisoformat("2024-05-14T15:00:00+00:00")

ZONES = [  # (zone, weight): Americas, Europe, Asia-Pacific
    ("America/New_York", 18),
    ("America/Chicago", 9),
    ("America/Denver", 4),
    ("America/Los_Angeles", 12),
    ("America/Sao_Paulo", 4),
    ("Europe/London", 10),
    ("Europe/Berlin", 12),
    ("Europe/Paris", 6),
    ("Europe/Madrid", 3),
    ("Asia/Kolkata", 6),
    ("Asia/Singapore", 4),
    ("Asia/Tokyo", 5),
    ("Australia/Sydney", 5),
    ("Pacific/Auckland", 2),
]
CAMPAIGNS = [
    {
        "campaign_id": "feature-automations",
        "goal": "feature_adoption",
        "content": {
            "kind": "product_update",
            "title": "Automations are here",
            "summary": "Build multi-step workflows without code.",
            "link": "https://example.com/automations",
            "cta": "Try automations",
        },
    },
    {
        "campaign_id": "case-study-fintech",
        "goal": "nurture",
        "content": {
            "kind": "case_study",
            "title": "How Ledgerly cut onboarding time in half",
            "summary": "A 12-person team's first 90 days.",
            "link": "https://example.com/ledgerly",
        },
    },
    {
        "campaign_id": "demo-spring",
        "goal": "demo_request",
        "content": {
            "kind": "demo_invite",
            "title": "See it with your own data",
            "summary": "A 20-minute walkthrough.",
            "link": "https://example.com/demo",
            "cta": "Book a demo",
        },
    },
    {
        "campaign_id": "upsell-business",
        "goal": "upsell",
        "content": {
            "kind": "product_update",
            "title": "The Business plan",
            "summary": "SSO, audit logs and priority support.",
            "link": "https://example.com/pricing",
            "cta": "Compare plans",
        },
    },
    {
        "campaign_id": "winback-q2",
        "goal": "winback",
        "content": {
            "kind": "discount_offer",
            "title": "Stay with us",
            "summary": "Exports are three times faster now.",
            "link": "https://example.com/offer",
            "discount_pct": 20,
        },
    },
    {
        "campaign_id": "webinar-june",
        "goal": "event_invite",
        "content": {
            "kind": "event_invite",
            "title": "Live: automations in practice",
            "summary": "June 12, 45 minutes.",
            "link": "https://example.com/webinar",
            "cta": "Save a seat",
        },
    },
    {
        "campaign_id": "api-help",
        "goal": "support_followup",
        "content": {
            "kind": "help",
            "title": "Fixing common API errors",
            "summary": "The five errors we see most.",
            "link": "https://docs.example.com/api/troubleshooting",
        },
    },
]
CUSTOMER_CAMPAIGNS = [0, 1, 3, 5]  # what ordinary customers are sent (no demo push, no win-back offer)
INQUIRIES = {
    "pricing_exception": [
        "Can we get a better price if we commit to 200 seats?",
        "Our budget was cut — is there nonprofit pricing?",
    ],
    "custom_terms": [
        "We need net-60 payment terms and a custom SLA.",
        "Is an annual contract with quarterly billing possible?",
    ],
    "procurement": [
        "Our procurement team needs a W-9 and a vendor registration form.",
        "Please send a quote we can turn into a purchase order.",
    ],
    "legal_review": [
        "Legal needs to review your MSA and DPA before we sign.",
        "Can you send the DPA? We have redlines.",
    ],
    "security_docs": [
        "Can you share your SOC 2 report?",
        "We need a security questionnaire filled in before rollout.",
    ],
}
SUPPORT_TEXTS = {
    "unresolved": [
        "This still doesn't work and nobody has replied.",
        "Third time asking about the export bug.",
        "The sync keeps failing, this is unacceptable.",
    ],
    "resolved": ["Thanks, that fixed it!", "Great, works now."],
}


def _at(rng: random.Random, *, max_hours: float) -> str:
    return (SEND_AT - timedelta(hours=rng.uniform(0.1, max_hours))).isoformat()


def _zone(rng: random.Random) -> str:
    names, weights = zip(*ZONES, strict=True)
    return rng.choices(names, weights=weights)[0]


def _consent(rng: random.Random) -> tuple[dict[str, str], bool]:
    consent = {"email": rng.choices(["granted", "unknown", "opted_out"], weights=[80, 12, 8])[0]}
    if rng.random() < 0.3:
        consent["sms"] = rng.choice(["granted", "opted_out"])
    if rng.random() < 0.4:
        consent["push"] = rng.choice(["granted", "unknown"])
    return consent, rng.random() < 0.02


def _profile(rng: random.Random, i: int, **over: object) -> dict[str, object]:
    tier = rng.choices(["free", "pro", "business", "enterprise", "vip"], weights=[30, 35, 20, 12, 3])[0]
    value = {"free": 0, "pro": 1200, "business": 12000, "enterprise": 80000, "vip": 150000}[
        tier
    ] * rng.uniform(0.5, 1.6)
    consent, unsub = _consent(rng)
    profile: dict[str, object] = {
        "person_id": f"p{i:06d}",
        "first_name": rng.choice(
            ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun", None]
        ),
        "company": rng.choice(["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", None]),
        "account_id": f"acct-{i // 3:05d}",
        "tier": tier,
        "account_value": round(value, 2),
        "lifecycle_stage": rng.choices(
            ["active", "onboarding", "renewal", "trial", "churn_risk"], weights=[60, 10, 8, 15, 7]
        )[0],
        "buying_stage": "customer",
        "engagement": rng.choices(["dormant", "light", "regular", "power"], weights=[10, 30, 40, 20])[0],
        "consent": consent,
        "unsubscribed_all": unsub,
        "timezone": _zone(rng),
        "preferred_channel": rng.choices(["email", "sms", "push", None], weights=[60, 10, 10, 20])[0],
    }
    if tier in ("enterprise", "vip") or rng.random() < 0.1:
        profile["account_manager"] = {"name": rng.choice(["Dana", "Omar", "Priya"]), "slack": "@am"}
    profile.update(over)
    return profile


def _views(rng: random.Random, pages: list[str], *, max_hours: float = 72) -> list[dict[str, object]]:
    return [{"type": "page_view", "page": p, "at": _at(rng, max_hours=max_hours)} for p in pages]


# Each persona returns (profile overrides, events, inquiry, campaign index or None for a random campaign).
Made = tuple[dict[str, object], list[dict[str, object]], str | None, int | None]
Persona = Callable[[random.Random], Made]


def ordinary(rng: random.Random) -> Made:
    events: list[dict[str, object]] = []
    if rng.random() < 0.5:
        events.append({"type": "email_click", "at": _at(rng, max_hours=200)})
    if rng.random() < 0.4:
        events.append({"type": "feature_used", "at": _at(rng, max_hours=100)})
    if rng.random() < 0.15:
        text = rng.choice(SUPPORT_TEXTS["resolved"])
        events.append(
            {
                "type": "support_conversation",
                "outcome": "resolved",
                "text": text,
                "at": _at(rng, max_hours=300),
            }
        )
    return {}, events, None, rng.choice(CUSTOMER_CAMPAIGNS)


def lead(rng: random.Random) -> Made:
    stage = rng.choices(["researching", "evaluating", "deciding", "unaware"], weights=[45, 30, 15, 10])[0]
    over = {
        "lifecycle_stage": rng.choice(["lead", "trial"]),
        "buying_stage": stage,
        "tier": "free",
        "account_value": 0,
    }
    events = _views(
        rng,
        rng.sample(["/pricing", "/docs/start", "/features", "/integrations", "/blog/x"], k=rng.randint(0, 3)),
    )
    return over, events, None, rng.choice([1, 2, 2, 5, 0])


def failed_payment(rng: random.Random) -> Made:
    events: list[dict[str, object]] = [{"type": "failed_payment", "at": _at(rng, max_hours=100)}]
    if rng.random() < 0.3:
        events.append({"type": "payment_recovered", "at": _at(rng, max_hours=2)})
    return {}, events, None, None


def bad_support(rng: random.Random) -> Made:
    outcome = rng.choice(["unresolved", "escalated", "abandoned", "reopened"])
    events: list[dict[str, object]] = [
        {
            "type": "support_conversation",
            "outcome": outcome,
            "topic": "sync",
            "text": rng.choice(SUPPORT_TEXTS["unresolved"]),
            "at": _at(rng, max_hours=150),
        }
    ]
    if rng.random() < 0.3:
        events.append({"type": "handoff", "at": _at(rng, max_hours=60)})
    return {}, events, None, None


def api_errors(rng: random.Random) -> Made:
    events = [{"type": "api_error_burst", "count": rng.randint(1, 12), "at": _at(rng, max_hours=40)}]
    return {"engagement": "power"}, events, None, rng.choice([0, 6, None])


def struggling(rng: random.Random) -> Made:
    events: list[dict[str, object]] = [
        {"type": "rage_click", "count": rng.randint(2, 5), "at": _at(rng, max_hours=30)}
    ]
    if rng.random() < 0.5:
        events.append({"type": "product_error", "at": _at(rng, max_hours=30)})
    events += _views(
        rng, rng.sample(["/docs/api/auth", "/settings/billing", "/help/export"], k=1), max_hours=30
    )
    return {}, events, None, None


def lost_power_user(rng: random.Random) -> Made:
    events = _views(rng, ["/settings/billing", "/settings/billing/history"], max_hours=3)
    events.append({"type": "rage_click", "count": 2, "at": _at(rng, max_hours=2)})
    events.append({"type": "page_view", "page": "/account/cancel", "at": _at(rng, max_hours=1)})
    return {"engagement": "power", "tier": rng.choice(["pro", "business"])}, events, None, 4


def finished_customer(rng: random.Random) -> Made:
    events: list[dict[str, object]] = [
        {"type": "failed_payment", "at": _at(rng, max_hours=600)} for _ in range(3)
    ]
    events += [
        {
            "type": "support_conversation",
            "outcome": "unresolved",
            "text": rng.choice(SUPPORT_TEXTS["unresolved"]),
            "at": _at(rng, max_hours=500),
        }
        for _ in range(2)
    ]
    events.append({"type": "page_view", "page": "/account/cancel", "at": _at(rng, max_hours=1)})
    return {"lifecycle_stage": "churn_risk"}, events, None, 4


def asks_for_rep(rng: random.Random) -> Made:
    topic = rng.choice(list(INQUIRIES))
    text = rng.choice(INQUIRIES[topic])
    if rng.random() < 0.5:
        return {"buying_stage": rng.choice(["evaluating", "deciding"])}, [], text, None
    return {}, [{"type": "form_submission", "text": text, "at": _at(rng, max_hours=48)}], None, None


def security_reader(rng: random.Random) -> Made:
    stage = rng.choice(["evaluating", "deciding", "researching"])
    over: dict[str, object] = {"buying_stage": stage, "lifecycle_stage": "trial"}
    return over, _views(rng, ["/security", "/trust/soc2"], max_hours=100), None, None


PERSONAS: list[tuple[Persona, int]] = [
    (ordinary, 46),
    (lead, 14),
    (failed_payment, 7),
    (bad_support, 7),
    (api_errors, 5),
    (struggling, 6),
    (lost_power_user, 3),
    (finished_customer, 2),
    (asks_for_rep, 5),
    (security_reader, 3),
]


def generate(count: int, *, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    makers, weights = zip(*PERSONAS, strict=True)
    people: list[dict[str, object]] = []
    for i in range(count):
        persona = rng.choices(makers, weights=weights)[0]
        over, events, inquiry, campaign = persona(rng)
        request: dict[str, object] = {
            "request_id": f"r{i:06d}",
            "profile": _profile(rng, i, **over),
            "events": events,
            "campaign": CAMPAIGNS[campaign if campaign is not None else rng.randrange(len(CAMPAIGNS) - 1)],
            "send_at": SEND_AT.isoformat(),
        }
        if rng.random() < 0.1:
            request["channel"] = rng.choice(["email", "sms", "push", "in_app"])
        if inquiry:
            request["inquiry"] = inquiry
        people.append(request)
    return people


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("var/marketing_population.jsonl"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for request in generate(args.count, seed=args.seed):
            fh.write(json.dumps(request, separators=(",", ":")) + "\n")
    print(f"wrote {args.count} requests to {args.out}")


if __name__ == "__main__":
    main()
