"""The metric definitions on hand-made store rows: regret is a new conversation of the same account within 72 h
of the end (not before it, not after), precision counts the labels that say a person was needed, recovery
compares the final frustration with the worst, and failures are sorted by type."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tactful.service.outcomes.store import Window
from tactful.service.outcomes.summary import summarize

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def result(
    turn: int,
    *,
    label: str,
    frustration: float,
    worst: float,
    markers: list[str] | None = None,
    guards: list[dict[str, Any]] | None = None,
    action: str = "respond",
) -> str:
    history = [
        {
            "turn": t,
            "score": 0.0,
            "frustration": frustration,
            "urgency": 0.0,
            "markers": (markers or []) if t == turn else [],
        }
        for t in range(1, turn + 1)
    ]
    return json.dumps(
        {
            "turn": turn,
            "action": action,
            "mode": "bot",
            "intent": {
                "label": label,
                "confidence": 0.9,
                "runner_up": None,
                "out_of_scope": False,
                "risk": "low",
                "queue": "billing",
                "source": "offline",
            },
            "sentiment": {"frustration": frustration, "worst": worst, "history": history},
            "guards": guards or [],
            "degraded": False,
        }
    )


def conv(cid: str, person: str | None, start: float, end: float) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "person_id": person,
        "mode": "bot",
        "turn": 1,
        "created_at": at(start),
        "updated_at": at(end),
    }


def turn(cid: str, n: int, payload: str, hours: float) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "turn": n,
        "action": "respond",
        "mode": "bot",
        "result": payload,
        "created_at": at(hours),
    }


def handoff(hid: str, cid: str, *, created: float, closed: float | None, missing: list[str]) -> dict[str, Any]:
    packet = {
        "intent": {"label": "refund_request"},
        "queue": "billing_escalations",
        "completeness": 0.8 if missing else 1.0,
        "missing": missing,
    }
    return {
        "id": hid,
        "conversation_id": cid,
        "turn": 1,
        "status": "resolved" if closed is not None else "open",
        "queue": "billing_escalations",
        "reason": "r",
        "packet": json.dumps(packet),
        "created_at": at(created),
        "claimed_at": None,
        "closed_at": at(closed) if closed is not None else None,
    }


def test_the_definitions() -> None:
    conversations = [
        conv("back-in-time", "P1", 0, 1),  # P1 returns at 73 h: more than 72 h after the end at 1 h
        conv("regret", "P2", 2, 3),  # P2 returns at 50 h: regret
        conv("escalated", "P3", 4, 5),
        conv("escalated2", "P4", 6, 7),
        conv("anonymous", None, 8, 9),
    ]
    later = [
        {"conversation_id": "back-in-time", "person_id": "P1", "created_at": at(0)},
        {"conversation_id": "p1-return", "person_id": "P1", "created_at": at(73.5)},
        {"conversation_id": "regret", "person_id": "P2", "created_at": at(2)},
        {"conversation_id": "p2-return", "person_id": "P2", "created_at": at(50)},
    ]
    turns = [
        turn("back-in-time", 1, result(1, label="invoices", frustration=0.1, worst=0.1), 0.5),
        turn("regret", 1, result(1, label="invoices", frustration=0.2, worst=0.8, markers=["restated"]), 2.5),
        turn(
            "escalated",
            1,
            result(
                1,
                label="refund_request",
                frustration=0.6,
                worst=0.6,
                action="escalate",
                guards=[
                    {
                        "guard": "human_request",
                        "stage": "input",
                        "tripped": True,
                        "reason": "human_requested",
                        "effect": "handoff",
                    }
                ],
            ),
            4.5,
        ),
        turn(
            "escalated2",
            1,
            result(
                1,
                label="refund_request",
                frustration=0.3,
                worst=0.3,
                action="escalate",
                guards=[
                    {
                        "guard": "output",
                        "stage": "output",
                        "tripped": True,
                        "reason": "unauthorized_promise",
                        "effect": "handoff",
                    }
                ],
            ),
            6.5,
        ),
        turn("anonymous", 1, result(1, label="invoices", frustration=0.0, worst=0.0), 8.5),
    ]
    handoffs = [
        handoff("h1", "escalated", created=4.5, closed=5.5, missing=[]),
        handoff("h2", "escalated2", created=6.5, closed=None, missing=["account"]),
    ]
    feedback = [{"handoff_id": "h1", "label": "automatable"}, {"handoff_id": "h2", "label": "wrong_queue"}]
    window = Window(
        conversations=conversations,
        turns=turns,
        handoffs=handoffs,
        feedback=feedback,
        ratings=[
            {"conversation_id": "regret", "turn": 1, "score": 2, "word": None, "at": at(3)},
            {"conversation_id": "escalated", "turn": 1, "score": 4, "word": None, "at": at(6)},
        ],
        decisions=[],
        replies=[{"handoff_id": "h1", "first_reply_at": at(4.75)}],
        later_contacts=later,
        truncated=False,
    )
    s = summarize(window, tenant="t", since=T0, until=T0 + timedelta(days=1))
    t = s.totals
    assert (t.conversations, t.contained, t.regret_contacts, t.escalations) == (5, 3, 1, 2)
    assert t.containment_without_regret == 0.4 and t.escalation_rate == 0.4
    assert t.escalation_precision == 0.5  # wrong_queue: a person was needed; automatable: not
    assert t.first_reply_s_median == 900.0 and t.resolution_s_median == 3600.0  # 15 min, 1 h; h2 is still open
    assert t.handoff_completeness == 0.9
    # "regret" went from 0.8 to 0.2 (recovered, 0.75 of its worst); "escalated" stayed at 0.6 (no recovery)
    assert t.negative_conversations == 2 and t.negative_recovery == 0.375 and t.recovered_share == 0.5
    assert t.restatements_per_conversation == 0.2 and t.human_requests == 1
    assert t.rating_mean == 3.0 and t.post_handoff_rating_mean == 4.0
    assert t.failures == {"bad_timing": 2, "lost_context": 1, "policy_breach": 1, "wrong_intent": 1}
    assert set(s.by_intent) == {"invoices", "refund_request"} and s.by_intent["invoices"].conversations == 3
    assert set(s.by_queue) == {"billing", "billing_escalations"}
    assert list(s.by_day) == ["2026-03-02"]
    assert s.labels == {"automatable": 1, "wrong_queue": 1}
