"""Whole-graph handoff rates on labelled traffic: each row (or each dialogue) is a fresh conversation through the
support graph, and the report says how often it handed off, why, and to which queue — overall and per label.

``handoff_labels`` names the labels whose rows *should* hand off (e.g. a "talk to a person" label): the report
then splits the figure into ``caught`` (those rows handed off) and ``over_escalation`` (the other rows handed
off). Over-escalation matters as much as a missed handoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.context import TurnContext
from tactful.errors import InputError
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner, TurnResult, thread_id
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings

EXAMPLES_PER_REASON = 3  # messages quoted per handoff reason in the report
TRANSCRIPT_TURNS = 4  # user turns up to and including the handing-off one, quoted with each example


def load_dialogues(path: Path) -> list[list[str]]:
    """The user turns of every dialogue in a tab-separated transcript file: one ``ROLE<TAB>TEXT[<TAB>...]`` line
    per turn, a blank line between dialogues (the layout of the USS sets, e.g. ``uss/SGD.txt``). Lines whose role
    is not ``USER``, and a dialogue's closing ``USER<TAB>OVERALL`` rating line, are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    dialogues: list[list[str]] = []
    current: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if current:
                dialogues.append(current)
            current = []
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise InputError(f"{path}:{number}: expected ROLE<TAB>TEXT")
        if parts[0].strip().upper() == "USER" and parts[1].strip() and parts[1].strip() != "OVERALL":
            current.append(parts[1].strip())
    if current:
        dialogues.append(current)
    if not dialogues:
        raise InputError(f"{path}: no USER turns found")
    return dialogues


@dataclasses.dataclass
class _Tally:
    n: int = 0
    handoffs: int = 0
    actions: Counter[str] = dataclasses.field(default_factory=Counter)
    reasons: Counter[str] = dataclasses.field(default_factory=Counter)
    queues: Counter[str] = dataclasses.field(default_factory=Counter)

    def add(self, handed_off: bool, action: str, reason: str | None, queue: str | None) -> None:
        self.n += 1
        self.actions[action] += 1
        if handed_off:
            self.handoffs += 1
            self.reasons[reason or "unknown"] += 1
            self.queues[queue or "unknown"] += 1

    def rate(self) -> float | None:
        return round(self.handoffs / self.n, 4) if self.n else None


def _turn_record(text: str, result: TurnResult) -> dict[str, Any]:
    """One turn of a ``--dump`` record: what the graph read and did, and why."""
    intent = result.intent
    decision = result.decision
    tripped = [f"{g['guard']}:{g['reason']}" for g in result.guards if g["tripped"]]
    return {
        "text": text,
        "action": result.action,
        "mode": result.mode,
        "intent": intent["label"] if intent else None,
        "confidence": round(float(intent["confidence"]), 3) if intent else None,
        "source": intent["source"] if intent else None,
        "risk": intent["risk"] if intent else None,
        "rule": decision["rule"] if decision else None,
        "reason": decision["reason"] if decision else None,
        "frustration": round(float(result.sentiment["frustration"]), 3) if result.sentiment else None,
        "markers": result.sentiment["markers"] if result.sentiment else [],
        "guards": tripped,
    }


def dump_records(
    path: Path,
    dialogues: Sequence[Sequence[str]],
    labels: Sequence[str],
    results: Sequence[Sequence[TurnResult]],
    *,
    handoffs_only: bool = False,
) -> None:
    """Write one JSON line per dialogue (or message): its label, whether and why it handed off, and every turn's
    intent, confidence, rule and reason — the raw material for finding the classes of over-escalation."""
    with path.open("w", encoding="utf-8") as out:
        for index, (texts, label, turn_results) in enumerate(zip(dialogues, labels, results, strict=True)):
            handed = [r for r in turn_results if _outcome(r)[0]]
            if handoffs_only and not handed:
                continue
            last = handed[0] if handed else turn_results[-1]
            handed_off, _action, reason, queue = _outcome(last)
            record = {
                "index": index,
                "label": label,
                "handed_off": handed_off,
                "reason": reason if handed_off else None,
                "queue": queue,
                "turns": [_turn_record(t, r) for t, r in zip(texts, turn_results, strict=False)],
            }
            out.write(json.dumps(record) + "\n")


def _outcome(result: TurnResult) -> tuple[bool, str, str | None, str | None]:
    handed_off = result.action == "escalate" or result.mode == "human"
    packet = result.handoff
    reason = packet["reason"] if packet else (result.decision["reason"] if result.decision else None)
    queue = packet["queue"] if packet else None
    return handed_off, result.action, reason, queue


class TrafficRunner:
    """Replays single messages or dialogues, each a fresh conversation, through one compiled support graph."""

    def __init__(self, settings: Settings, tenant: str = "default") -> None:
        self.tenant = tenant
        self._saver = InMemorySaver()
        base = build_context(settings, tenant=tenant)
        self._ctx: TurnContext = base
        self._runner = SupportRunner(compile_support_graph(self._saver), lambda _tenant: self._ctx)

    async def dialogue(self, key: str, texts: Sequence[str]) -> list[TurnResult]:
        results: list[TurnResult] = []
        for i, text in enumerate(texts):
            result = await self._runner.turn(key, text, tenant=self.tenant, message_id=f"{key}:{i}")
            results.append(result)
            if result.mode == "human":
                break  # the bot is silent from here on
        await self._saver.adelete_thread(thread_id(self.tenant, key))
        return results


async def _measure(runner: TrafficRunner, dialogues: Sequence[Sequence[str]]) -> list[list[TurnResult]]:
    return [await runner.dialogue(f"traffic:{i}", texts) for i, texts in enumerate(dialogues)]


def measure(
    settings: Settings,
    dialogues: Sequence[Sequence[str]],
    labels: Sequence[str],
    *,
    handoff_labels: Sequence[str] = (),
    tenant: str = "default",
    dump: Path | None = None,
    dump_handoffs_only: bool = False,
) -> dict[str, Any]:
    """Run every dialogue (a list of user messages; one message is a one-turn dialogue) as a fresh conversation
    and report handoff rates. A dialogue counts as handed off when any of its turns hands off. With ``dump``,
    every dialogue's turns (or, with ``dump_handoffs_only``, those of the handed-off ones) are written there as
    JSON lines (``dump_records``)."""
    runner = TrafficRunner(settings, tenant)
    results = asyncio.run(_measure(runner, dialogues))
    if dump is not None:
        dump_records(dump, dialogues, labels, results, handoffs_only=dump_handoffs_only)
    should = set(handoff_labels)
    overall, caught, others = _Tally(), _Tally(), _Tally()
    by_label: dict[str, _Tally] = defaultdict(_Tally)
    intents: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    turns = 0
    for texts, label, turn_results in zip(dialogues, labels, results, strict=True):
        turns += len(turn_results)
        handed = [r for r in turn_results if _outcome(r)[0]]
        last = handed[0] if handed else turn_results[-1]
        handed_off, action, reason, queue = _outcome(last)
        for tally in (overall, by_label[label], caught if label in should else others):
            tally.add(handed_off, action, reason, queue)
        for r in turn_results:
            if r.intent:
                intents[r.intent["label"]] += 1
        if handed_off and len(examples[reason or "unknown"]) < EXAMPLES_PER_REASON:
            at = turn_results.index(last)
            if len(texts) == 1:
                examples[reason or "unknown"].append(texts[0][:160])
            else:  # a dialogue: the turns that led up to the handoff, the handing-off one last
                lead = texts[max(0, at + 1 - TRANSCRIPT_TURNS) : at + 1]
                examples[reason or "unknown"].append(" | ".join(t[:120] for t in lead))
    report: dict[str, Any] = {
        "n": overall.n,
        "turns": turns,
        "handoff_rate": overall.rate(),
        "handoffs": overall.handoffs,
        "actions": dict(overall.actions.most_common()),
        "reasons": dict(overall.reasons.most_common()),
        "queues": dict(overall.queues.most_common()),
        "intents": dict(intents.most_common(15)),
        "examples": dict(examples),
        "by_label": {
            name: {"n": t.n, "handoff_rate": t.rate(), "reasons": dict(t.reasons.most_common(3))}
            for name, t in sorted(by_label.items(), key=lambda kv: (-kv[1].handoffs, kv[0]))
        },
    }
    if should:
        report["handoff_labels"] = sorted(should)
        report["caught"] = caught.rate()
        report["over_escalation"] = others.rate()
    return report
