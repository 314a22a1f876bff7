"""The live metrics, computed from what the store holds for a window of conversations (pure functions; the
caller runs them off the event loop).

One record per conversation (:class:`Conversation`), then the same figures for every slice: the tenant, each
intent, each queue, each day the conversation started.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tactful.service.outcomes.models import NEEDED_LABELS, Figures, MetricsSummary, ShadowFigures
from tactful.service.outcomes.store import Window
from tactful.service.store import Row

NEGATIVE_AT = 0.5
"""A conversation turned negative when its worst frustration reached this."""
BREACH_STAGES = frozenset({"output", "stream"})
REGRET_H = 72.0


@dataclass
class Conversation:
    conversation_id: str
    person_id: str | None
    day: str
    intent: str
    queue: str
    turns: int = 0
    escalated: bool = False
    regret: bool = False
    labels: list[str] = field(default_factory=list)
    completeness: list[float] = field(default_factory=list)
    missing_fields: int = 0
    first_reply_s: list[float] = field(default_factory=list)
    resolution_s: list[float] = field(default_factory=list)
    worst: float = 0.0
    final: float = 0.0
    restatements: int = 0
    human_request: bool = False
    breaches: int = 0
    degraded: int = 0
    ratings: list[int] = field(default_factory=list)

    @property
    def contained(self) -> bool:
        return self.turns > 0 and not self.escalated


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (_ts(end) - _ts(start)).total_seconds())


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _by_conversation(rows: Iterable[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        out[str(row["conversation_id"])].append(row)
    return out


def _regret(conv: Row, later: Sequence[Row], regret_h: float) -> bool:
    """The same person (``account_id``) came back within ``regret_h`` hours after this conversation's end."""
    if not conv["person_id"]:
        return False
    end = _ts(conv["updated_at"])
    limit = end + timedelta(hours=regret_h)
    for other in later:
        if other["conversation_id"] == conv["conversation_id"]:
            continue
        start = _ts(other["created_at"])
        if end < start <= limit:
            return True
    return False


def conversations(window: Window, *, regret_h: float = REGRET_H) -> list[Conversation]:
    turns = _by_conversation(window.turns)
    handoffs = _by_conversation(window.handoffs)
    ratings = _by_conversation(window.ratings)
    labels = {str(r["handoff_id"]): str(r["label"]) for r in window.feedback}
    replies = {str(r["handoff_id"]): str(r["first_reply_at"]) for r in window.replies}
    later: dict[str, list[Row]] = defaultdict(list)
    for row in window.later_contacts:
        later[str(row["person_id"])].append(row)
    out: list[Conversation] = []
    for conv in window.conversations:
        cid = str(conv["conversation_id"])
        results = [json.loads(r["result"]) for r in sorted(turns.get(cid, []), key=lambda r: int(r["turn"]))]
        own = sorted(handoffs.get(cid, []), key=lambda r: int(r["turn"]))
        packets = [json.loads(h["packet"]) for h in own]
        intent, queue = _intent_and_queue(results, packets)
        record = Conversation(
            conversation_id=cid,
            person_id=conv["person_id"],
            day=str(conv["created_at"])[:10],
            intent=intent,
            queue=queue,
            turns=len(results),
            escalated=bool(own),
            regret=_regret(conv, later.get(str(conv["person_id"]), []), regret_h),
        )
        for handoff, packet in zip(own, packets, strict=True):
            hid = str(handoff["id"])
            if hid in labels:
                record.labels.append(labels[hid])
            record.completeness.append(float(packet.get("completeness", 0.0)))
            if packet.get("missing") and labels.get(hid) != "packet_missing":
                record.missing_fields += 1
            if (reply := _seconds(handoff["created_at"], replies.get(hid))) is not None:
                record.first_reply_s.append(reply)
            done = _seconds(handoff["created_at"], handoff["closed_at"]) if handoff["status"] == "resolved" else None
            if done is not None:
                record.resolution_s.append(done)
        _sentiment(record, results)
        for result in results:
            label = (result.get("intent") or {}).get("label")
            tripped = [g for g in result.get("guards", []) if g.get("tripped")]
            if label == "human_request" or any(g.get("reason") == "human_requested" for g in tripped):
                record.human_request = True
            record.breaches += sum(
                1 for g in tripped if g.get("stage") in BREACH_STAGES and g.get("effect") == "handoff"
            )
            record.degraded += 1 if result.get("degraded") else 0
        record.ratings = [int(r["score"]) for r in ratings.get(cid, [])]
        out.append(record)
    return out


def _intent_and_queue(results: list[dict[str, Any]], packets: list[dict[str, Any]]) -> tuple[str, str]:
    """The handoff's intent and queue; for a conversation the bot kept, its last in-scope intent."""
    if packets:
        first = packets[0]
        label = (first.get("intent") or {}).get("label") or "out_of_scope"
        return str(label), str(first.get("queue") or "general")
    for result in reversed(results):
        intent = result.get("intent") or {}
        if intent and not intent.get("out_of_scope"):
            return str(intent["label"]), str(intent.get("queue") or "general")
    last = (results[-1].get("intent") or {}) if results else {}
    return "out_of_scope", str(last.get("queue") or "general")


def _sentiment(record: Conversation, results: list[dict[str, Any]]) -> None:
    sentiments = [r["sentiment"] for r in results if r.get("sentiment")]
    if not sentiments:
        return
    last = sentiments[-1]
    record.worst = float(last.get("worst", last.get("frustration", 0.0)))
    record.final = float(last.get("frustration", 0.0))
    record.restatements = sum(1 for t in last.get("history", []) if "restated" in (t.get("markers") or []))


def figures(convs: Sequence[Conversation]) -> Figures:
    n = len(convs)
    contained = [c for c in convs if c.contained]
    escalated = [c for c in convs if c.escalated]
    labels = [label for c in convs for label in c.labels]
    negative = [c for c in convs if c.worst >= NEGATIVE_AT]
    ratings = [r for c in convs for r in c.ratings]
    post_handoff = [r for c in escalated for r in c.ratings]
    failures = Counter[str]()
    for c in convs:
        failures["wrong_intent"] += c.labels.count("wrong_queue")
        failures["bad_timing"] += c.labels.count("automatable") + (1 if c.contained and c.regret else 0)
        failures["lost_context"] += c.labels.count("packet_missing") + c.missing_fields
        failures["policy_breach"] += c.breaches
        failures["model_fallback"] += c.degraded
    return Figures(
        conversations=n,
        contained=len(contained),
        containment_without_regret=_ratio(sum(1 for c in contained if not c.regret), n),
        regret_contacts=sum(1 for c in contained if c.regret),
        escalations=len(escalated),
        escalation_rate=_ratio(len(escalated), n),
        labelled_escalations=len(labels),
        escalation_precision=_ratio(sum(1 for label in labels if label in NEEDED_LABELS), len(labels)),
        handoff_completeness=_mean([x for c in escalated for x in c.completeness]),
        first_reply_s_median=_median([x for c in escalated for x in c.first_reply_s]),
        resolution_s_median=_median([x for c in escalated for x in c.resolution_s]),
        negative_conversations=len(negative),
        negative_recovery=_mean([(c.worst - c.final) / c.worst for c in negative]),
        recovered_share=_ratio(sum(1 for c in negative if c.final < NEGATIVE_AT), len(negative)),
        restatements_per_conversation=_ratio(sum(c.restatements for c in convs), n),
        human_requests=sum(1 for c in convs if c.human_request),
        human_request_rate=_ratio(sum(1 for c in convs if c.human_request), n),
        rating_mean=_mean(ratings),
        ratings=len(ratings),
        post_handoff_rating_mean=_mean(post_handoff),
        failures={k: v for k, v in sorted(failures.items()) if v},
    )


def shadow_figures(window: Window, convs: Sequence[Conversation]) -> ShadowFigures:
    """Where the shadow policy disagreed with the live one, and how those conversations ended."""
    rows = [r for r in window.decisions if r.get("shadow_action")]
    if not rows:
        return ShadowFigures()
    by_id = {c.conversation_id: c for c in convs}
    diverging = [r for r in rows if r["shadow_action"] != r["action"]]
    pairs = Counter(f"{r['action']}->{r['shadow_action']}" for r in diverging)
    ended = Counter[str]()
    for cid in sorted({str(r["conversation_id"]) for r in diverging}):
        conv = by_id.get(cid)
        if conv is None:
            continue
        if conv.labels:
            ended.update(conv.labels)
        elif conv.contained:
            ended["regret" if conv.regret else "contained"] += 1
        else:
            ended["unlabelled_escalation"] += 1
    versions = Counter(str(r["shadow_version"]) for r in rows)
    return ShadowFigures(
        policy_version=versions.most_common(1)[0][0],
        turns=len(rows),
        diverging_turns=len(diverging),
        diverging_conversations=len({r["conversation_id"] for r in diverging}),
        divergence=dict(sorted(pairs.items())),
        diverging_outcomes=dict(sorted(ended.items())),
    )


def _grouped(convs: Sequence[Conversation], key: str) -> dict[str, Figures]:
    groups: dict[str, list[Conversation]] = defaultdict(list)
    for c in convs:
        groups[str(getattr(c, key))].append(c)
    return {name: figures(group) for name, group in sorted(groups.items())}


def summarize(
    window: Window,
    *,
    tenant: str,
    since: datetime,
    until: datetime,
    regret_h: float = REGRET_H,
    intent: str | None = None,
    queue: str | None = None,
) -> MetricsSummary:
    convs = [
        c
        for c in conversations(window, regret_h=regret_h)
        if (intent is None or c.intent == intent) and (queue is None or c.queue == queue)
    ]
    return MetricsSummary(
        tenant=tenant,
        since=since.isoformat(),
        until=until.isoformat(),
        window_days=round((until - since).total_seconds() / 86400, 3),
        totals=figures(convs),
        by_intent=_grouped(convs, "intent"),
        by_queue=_grouped(convs, "queue"),
        by_day=_grouped(convs, "day"),
        labels=dict(sorted(Counter(label for c in convs for label in c.labels).items())),
        shadow=shadow_figures(window, convs),
        truncated=window.truncated,
    )
