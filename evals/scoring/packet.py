"""The handoff packet of a support conversation: every field an agent needs present, the expected queue,
reason, intent and priority, the account context carried over, and every message of the person in the
transcript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tactful.agents.state import HandoffPacket
from tactful.evals.records import TurnRecord
from tactful.evals.scenario import HandoffExpect, matches
from tactful.evals.scoring.common import fmt
from tactful.evals.scoring.score import Check, HandoffScore

# Fields of the handoff packet an agent needs (tactful.agents.state.HandoffPacket);
# ``transcript`` must hold every message.
PACKET_FIELDS = (
    "summary",
    "intent",
    "sentiment_trend",
    "account",
    "tried",
    "reason",
    "recommended_next_step",
    "confidence",
    "priority",
    "queue",
    "transcript_ref",
    "transcript",
)
EXPECTED_FIELDS = ("queue", "reason", "intent", "priority")


def merge_expectations(conversation: HandoffExpect | None, turn: HandoffExpect | None) -> HandoffExpect | None:
    """One packet expectation: the conversation's fields, filled in from the handoff turn's own."""
    if conversation is None or turn is None:
        return conversation or turn
    merged = {k: v if v is not None else getattr(turn, k) for k, v in conversation.model_dump().items()}
    return HandoffExpect(**merged)


def packet_fields(
    packet: HandoffPacket,
    expect: HandoffExpect | None,
    *,
    scenario_context: Mapping[str, Any],
    user_texts: Sequence[str],
) -> tuple[dict[str, bool], list[tuple[str, str]]]:
    """Which packet fields are present and correct, and (field, what is wrong) per problem."""
    fields: dict[str, bool] = {}
    problems: list[tuple[str, str]] = []
    data: dict[str, Any] = dict(packet)
    for name in PACKET_FIELDS:
        value = data.get(name)
        fields[name] = value not in (None, "", [], {})
        if not fields[name]:
            problems.append((name, f"{name} missing"))
    actual = {
        "queue": packet.get("queue"),
        "reason": packet.get("reason"),
        "intent": (data.get("intent") or {}).get("label"),
        "priority": packet.get("priority"),
    }
    if expect is not None:
        for name in EXPECTED_FIELDS:
            wanted = getattr(expect, name)
            if wanted is not None and not matches(wanted, actual[name]):
                fields[name] = False
                problems.append((name, f"{name} is {actual[name]!r}, expected {fmt(wanted)}"))
    account: dict[str, Any] = data.get("account") or {}
    lost = [k for k, v in scenario_context.items() if account.get(k) != v]
    if lost:
        fields["account"] = False
        problems.append(("account", f"account context lost: {', '.join(sorted(lost))}"))
    said = [m["text"] for m in packet.get("transcript") or [] if m.get("role") == "user"]
    dropped = [t for t in user_texts if t not in said]
    if dropped and fields["transcript"]:
        fields["transcript"] = False
        problems.append(("transcript", f"transcript lacks {len(dropped)} of the person's messages"))
    return fields, problems


def score_packet(
    esc: TurnRecord,
    expect: HandoffExpect | None,
    *,
    scenario_context: Mapping[str, Any],
    user_texts: Sequence[str],
) -> tuple[HandoffScore, list[Check]]:
    """The packet of the escalating turn: its completeness and a failed ``handoff.<field>`` check per problem
    (``handoff.packet`` when there is no packet at all)."""
    packet = esc.result.handoff
    if packet is None:
        missing = HandoffScore(
            turn=esc.turn, fields=dict.fromkeys(PACKET_FIELDS, False), completeness=0.0, problems=["no packet"]
        )
        return missing, [
            Check(name="handoff.packet", ok=False, category="lost_context", turn=esc.turn,
                  expected="a handoff packet", actual="none")
        ]
    fields, problems = packet_fields(packet, expect, scenario_context=scenario_context, user_texts=user_texts)
    score = HandoffScore(
        turn=esc.turn,
        fields=fields,
        completeness=round(sum(fields.values()) / len(fields), 4),
        problems=[message for _, message in problems],
    )
    checks = [
        Check(name=f"handoff.{field}", ok=False, category="lost_context", turn=esc.turn,
              expected="a complete, correct packet", actual=message)
        for field, message in problems
    ]
    return score, checks
