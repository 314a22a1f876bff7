"""Learn thresholds from outcomes: replay the stored turns of a window under candidate thresholds of the
tenant's support policy and score each candidate against what people said.

Labels, per conversation: a handoff people marked ``needed`` / ``wrong_queue`` / ``packet_missing`` needed a
person; one marked ``automatable`` did not; a conversation the bot kept needed a person when the same account
came back within 72 hours or the customer rated it 1-2, and did not otherwise. Unlabelled handoffs count in the
volume only.

The knobs are the numbers of the policy that decide an escalation, by family: ``confidence`` (the
``confidence_at_least`` of escalating rules), ``frustration`` (``frustration_at_least`` of escalating rules and
triggers, the trend x value threshold), ``value`` (``value_at_least`` and ``high_value``) and ``attempts``
(``failures_at_least`` and ``repeated_failures``). Every knob is tried alone over a grid; the proposal is found
greedily, knob by knob, on the *fit* share of the conversations, and scored again on the held-out share. It is
written as the policy file's text with those numbers (and ``version``) changed: a diff to review and apply by
copying the file; nothing here applies it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from tactful.agents.policy.files import PolicyBundle, SupportPolicy
from tactful.config import line_of
from tactful.service.outcomes.models import NEEDED_LABELS
from tactful.service.outcomes.replay import Route, replay, with_policy
from tactful.service.outcomes.store import Window
from tactful.service.outcomes.summary import REGRET_H, conversations

Family = Literal["confidence", "frustration", "value", "attempts"]
Path_ = tuple[str | int, ...]
RULE_FIELDS: dict[str, Family] = {
    "confidence_at_least": "confidence",
    "frustration_at_least": "frustration",
    "value_at_least": "value",
    "failures_at_least": "attempts",
}
TRIGGER_FIELDS: dict[str, Family] = {"frustration_at_least": "frustration", "failures_at_least": "attempts"}
THRESHOLD_FIELDS: dict[str, Family] = {
    "repeated_failures": "attempts",
    "high_value": "value",
    "trend_value_frustration": "frustration",
}
SHOWN_FACTORS = ("intent", "confidence", "risk", "frustration", "trend", "value", "tier", "failures", "triggers")


@dataclass(frozen=True)
class Knob:
    family: Family
    path: Path_
    current: float

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)

    def grid(self) -> list[float]:
        if self.family in ("confidence", "frustration"):
            values = [round(0.3 + 0.05 * i, 2) for i in range(14)]
        elif self.family == "value":
            values = [round(self.current * m) for m in (0.25, 0.5, 0.75, 1.5, 2.0, 3.0)]
        else:
            values = [1, 2, 3, 4]
        return sorted({*values, self.current})


def knobs(policy: SupportPolicy) -> list[Knob]:
    out: list[Knob] = []
    for i, rule in enumerate(policy.rules):
        if rule.action != "escalate":
            continue
        for name, family in RULE_FIELDS.items():
            value = getattr(rule.when, name)
            if value is not None:
                out.append(Knob(family, ("rules", i, "when", name), float(value)))
    for trig_name, trig in policy.triggers.items():
        for name, family in TRIGGER_FIELDS.items():
            value = getattr(trig, name)
            if value is not None:
                out.append(Knob(family, ("triggers", trig_name, name), float(value)))
    for name, family in THRESHOLD_FIELDS.items():
        out.append(Knob(family, ("thresholds", name), float(getattr(policy.thresholds, name))))
    return out


def _typed(knob: Knob, value: float) -> float | int:
    return int(value) if knob.family == "attempts" or knob.path[-1] == "high_value" else float(value)


def set_knob(policy: SupportPolicy, knob: Knob, value: float) -> SupportPolicy:
    v = _typed(knob, value)
    head = knob.path[0]
    if head == "thresholds":
        return policy.model_copy(update={"thresholds": policy.thresholds.model_copy(update={str(knob.path[1]): v})})
    if head == "rules":
        i = int(knob.path[1])
        rules = list(policy.rules)
        rules[i] = rules[i].model_copy(update={"when": rules[i].when.model_copy(update={str(knob.path[3]): v})})
        return policy.model_copy(update={"rules": rules})
    triggers = dict(policy.triggers)
    name = str(knob.path[1])
    triggers[name] = triggers[name].model_copy(update={str(knob.path[2]): v})
    return policy.model_copy(update={"triggers": triggers})


# --------------------------------------------------------------------------- the data


@dataclass
class Example:
    conversation_id: str
    results: list[dict[str, Any]]
    live_escalated: bool
    label: bool | None
    holdout: bool


def examples(window: Window, *, holdout_share: float, regret_h: float = REGRET_H) -> list[Example]:
    convs = {c.conversation_id: c for c in conversations(window, regret_h=regret_h)}
    turns: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row in window.turns:
        turns.setdefault(str(row["conversation_id"]), []).append((int(row["turn"]), json.loads(row["result"])))
    out: list[Example] = []
    for cid, conv in convs.items():
        results = [r for _, r in sorted(turns.get(cid, []), key=lambda x: x[0])]
        if not results:
            continue
        label: bool | None
        if conv.escalated:
            label = (conv.labels[-1] in NEEDED_LABELS) if conv.labels else None
        else:
            label = conv.regret or any(r <= 2 for r in conv.ratings)
        bucket = int(hashlib.sha256(cid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        out.append(Example(cid, results, conv.escalated, label, bucket < holdout_share))
    return out


# --------------------------------------------------------------------------- scoring


class Score(BaseModel):
    conversations: int
    escalations: int
    labelled: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass
class Replayed:
    escalated: bool
    route: Route | None
    turn: int | None
    result: dict[str, Any] | None = field(default=None, repr=False)


def run_example(candidate: PolicyBundle, live: PolicyBundle, ex: Example) -> Replayed:
    """The first turn where ``candidate`` escalates (turns after the live handoff were never the bot's)."""
    last: Replayed = Replayed(False, None, None)
    for result in ex.results:
        route = replay(candidate, live, result)
        if route is None:
            continue
        last = Replayed(False, route, int(result.get("turn", 0)), result)
        if route.action == "escalate":
            return Replayed(True, route, last.turn, result)
    return last


def score(pairs: Sequence[tuple[bool, Example]]) -> Score:
    labelled = [(e, ex.label) for e, ex in pairs if ex.label is not None]
    tp = sum(1 for e, y in labelled if e and y)
    fp = sum(1 for e, y in labelled if e and not y)
    fn = sum(1 for e, y in labelled if not e and y)
    precision = round(tp / (tp + fp), 4) if tp + fp else None
    recall = round(tp / (tp + fn), 4) if tp + fn else None
    f1 = (
        round(2 * precision * recall / (precision + recall), 4) if precision and recall else (0.0 if labelled else None)
    )
    return Score(
        conversations=len(pairs),
        escalations=sum(1 for e, _ in pairs if e),
        labelled=len(labelled),
        precision=precision,
        recall=recall,
        f1=f1,
    )


def evaluate(candidate: PolicyBundle, live: PolicyBundle, exs: Sequence[Example]) -> list[Replayed]:
    return [run_example(candidate, live, ex) for ex in exs]


def _objective(s: Score) -> tuple[float, float]:
    return (s.f1 or 0.0, -s.escalations)


class Change(BaseModel):
    conversation_id: str
    turn: int | None
    label: bool | None
    live: str
    candidate: str
    factors: dict[str, Any]


class Candidate(BaseModel):
    knob: str
    family: str
    current: float
    value: float
    fit: Score
    holdout: Score
    changed: int
    """Conversations whose escalation would flip (escalated now and not under the candidate, or the reverse)."""
    changed_ids: list[str]


class Proposal(BaseModel):
    tenant: str
    policy_file: str
    conversations: int
    labelled: int
    fit_conversations: int
    holdout_conversations: int
    replay_fidelity: float | None
    """Share of bot turns whose route, replayed under the live policy, is the route they took."""
    live: dict[str, Score]
    proposed: dict[str, Score] | None
    changes: dict[str, float | int]
    candidates: list[Candidate]
    changed_conversations: list[Change]
    diff: str
    note: str


def _factors(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result or not result.get("decision"):
        return {}
    values = {f["name"]: f.get("value") for f in result["decision"].get("factors", [])}
    return {k: values[k] for k in SHOWN_FACTORS if k in values}


def _route_text(r: Replayed) -> str:
    if r.route is None:
        return "none"
    return f"{'escalate' if r.escalated else r.route.action} ({r.route.rule}) at turn {r.turn}"


def changed(base: list[Replayed], other: list[Replayed], exs: Sequence[Example]) -> list[Change]:
    out: list[Change] = []
    for a, b, ex in zip(base, other, exs, strict=True):
        if a.escalated == b.escalated and (not a.escalated or a.turn == b.turn):
            continue
        deciding = b if b.escalated else a
        out.append(
            Change(
                conversation_id=ex.conversation_id,
                turn=deciding.turn,
                label=ex.label,
                live=_route_text(a),
                candidate=_route_text(b),
                factors=_factors(deciding.result),
            )
        )
    return out


def fidelity(live: PolicyBundle, exs: Sequence[Example]) -> float | None:
    same = total = 0
    for ex in exs:
        for result in ex.results:
            route = replay(live, live, result)
            if route is None:
                continue
            total += 1
            same += route.action == result.get("action")
    return round(same / total, 4) if total else None


def tune(
    live: PolicyBundle,
    window: Window,
    *,
    tenant: str,
    holdout_share: float = 0.3,
    min_labels: int = 20,
    max_changes_listed: int = 50,
) -> Proposal:
    exs = examples(window, holdout_share=holdout_share)
    fit = [e for e in exs if not e.holdout]
    held = [e for e in exs if e.holdout]

    def scored(policy: SupportPolicy, part: Sequence[Example]) -> tuple[Score, list[Replayed]]:
        runs = evaluate(with_policy(live, policy), live, part)
        return score([(r.escalated, ex) for r, ex in zip(runs, part, strict=True)]), runs

    base_fit, _ = scored(live.policy, fit)
    base_held, _ = scored(live.policy, held)
    candidates: list[Candidate] = []
    all_knobs = knobs(live.policy)
    for knob in all_knobs:
        for value in knob.grid():
            if value == knob.current:
                continue
            policy = set_knob(live.policy, knob, value)
            s_fit, runs_fit = scored(policy, fit)
            s_held, runs_held = scored(policy, held)
            flipped = [
                ex.conversation_id
                for r, ex in zip(runs_fit + runs_held, fit + held, strict=True)
                if r.escalated != ex.live_escalated
            ]
            candidates.append(
                Candidate(
                    knob=knob.name,
                    family=knob.family,
                    current=knob.current,
                    value=value,
                    fit=s_fit,
                    holdout=s_held,
                    changed=len(flipped),
                    changed_ids=flipped[:10],
                )
            )
    labelled_fit = sum(1 for e in fit if e.label is not None)
    best = live.policy
    changes: dict[str, float | int] = {}
    note = ""
    if labelled_fit < min_labels:
        note = f"only {labelled_fit} labelled conversations in the fit share (need {min_labels}): no proposal"
    else:
        current, _ = scored(best, fit)
        for knob in all_knobs:
            options = [(scored(set_knob(best, knob, v), fit)[0], v) for v in knob.grid()]
            top_score, top_value = max(options, key=lambda sv: _objective(sv[0]))
            if _objective(top_score) > _objective(current) and top_value != _current_value(best, knob):
                best = set_knob(best, knob, top_value)
                current = top_score
                changes[knob.name] = _typed(knob, top_value)
        if not changes:
            note = "no candidate beats the live policy on the fit share"
    proposed = None
    change_list: list[Change] = []
    diff = ""
    if changes:
        p_fit, _ = scored(best, fit)
        p_held, _ = scored(best, held)
        proposed = {"fit": p_fit, "holdout": p_held}
        live_runs = evaluate(live, live, exs)
        new_runs = evaluate(with_policy(live, best), live, exs)
        change_list = changed(live_runs, new_runs, exs)[:max_changes_listed]
        diff = yaml_diff(live, best, changes)
    return Proposal(
        tenant=tenant,
        policy_file=str(live.policy_path),
        conversations=len(exs),
        labelled=sum(1 for e in exs if e.label is not None),
        fit_conversations=len(fit),
        holdout_conversations=len(held),
        replay_fidelity=fidelity(live, exs),
        live={"fit": base_fit, "holdout": base_held},
        proposed=proposed,
        changes=changes,
        candidates=candidates,
        changed_conversations=change_list,
        diff=diff,
        note=note,
    )


def _current_value(policy: SupportPolicy, knob: Knob) -> float:
    return next(k.current for k in knobs(policy) if k.path == knob.path)


# --------------------------------------------------------------------------- the file


def proposed_text(text: str, policy: SupportPolicy, changes: dict[str, float | int]) -> str:
    """The policy file's text with the changed numbers (and ``version`` + 1); comments and layout kept."""
    lines = text.splitlines(keepends=True)
    by_name = {k.name: k for k in knobs(policy)}
    for name, value in changes.items():
        knob = by_name[name]
        line = line_of(text, knob.path)
        if line is None:
            raise ValueError(f"{name}: not found in the policy file")
        key = str(knob.path[-1])
        shown = str(_typed(knob, value))
        lines[line - 1], n = re.subn(rf"(\b{key}:\s*)[-+0-9.eE_]+", rf"\g<1>{shown}", lines[line - 1], count=1)
        if not n:
            raise ValueError(f"{name}: the number is not on line {line}")
    out = "".join(lines)
    new_version = policy.version + 1
    out, n = re.subn(r"(?m)^version:\s*\d+", f"version: {new_version}", out, count=1)
    if not n:
        out = f"version: {new_version}\n{out}"
    return out


def yaml_diff(live: PolicyBundle, policy: SupportPolicy, changes: dict[str, float | int]) -> str:
    text = live.policy_path.read_text(encoding="utf-8")
    new = proposed_text(text, live.policy, changes)
    name = live.policy_path.name
    return "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{name} (live)",
            tofile=f"{name} (proposed)",
        )
    )
