"""Replay a stored turn's decision under another support policy (a candidate of ``tactful tune``, a tenant's
shadow policy), from what the turn recorded: every input of the policy checker is one of its decision's
factors, and the guards that tripped are in the result.

What can change: the routing matrix (every rule and its thresholds), the triggers that depend only on
frustration or failures, and the decision guards (repeated failure, high value x rising frustration). What is
kept as it happened: input guards that handed off (a request for a person, a sensitive topic, injection, the
turn budget), a restated-issue handoff, a draft stopped by the output guard, and pattern or event triggers.
A replay sees each turn with the state it had; it cannot know how a conversation would have gone on after a
different route (turns after a handoff were never run by the bot).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tactful.agents.policy.checker import PolicyInputs, decide
from tactful.agents.policy.files import PolicyBundle, SupportPolicy
from tactful.config import load_yaml_model

INPUT_NAMES = {f.name for f in fields(PolicyInputs)}


@dataclass(frozen=True)
class Route:
    action: str
    rule: str
    reason: str


def policy_version(bundle: PolicyBundle) -> str:
    """``<version>:<first 10 hex of the file's SHA-256>``: the file's own version and what it says."""
    digest = hashlib.sha256(bundle.policy_path.read_bytes()).hexdigest()[:10]
    return f"{bundle.policy.version}:{digest}"


def with_policy(bundle: PolicyBundle, policy: SupportPolicy, path: Path | None = None) -> PolicyBundle:
    """The same taxonomy and guards with another support policy."""
    other = copy.copy(bundle)
    other.policy = policy
    if path is not None:
        other.policy_path = path
    other.__dict__.pop("compiled_triggers", None)
    return other


def load_policy_file(bundle: PolicyBundle, path: Path) -> PolicyBundle:
    """``bundle`` with the support policy of ``path`` (validated; a bad file fails with its line)."""
    return with_policy(bundle, load_yaml_model(path, SupportPolicy), path)


def inputs_from(factors: list[dict[str, Any]]) -> PolicyInputs | None:
    """The policy checker's inputs as the decision recorded them; None when the turn was not decided by it."""
    values = {str(f["name"]): f.get("value") for f in factors if f.get("name") in INPUT_NAMES}
    if "intent" not in values or "confidence" not in values:
        return None
    triggers = values.get("triggers")

    def num(name: str) -> float:
        value = values.get(name)
        return float(value) if isinstance(value, (int, float)) else 0.0

    return PolicyInputs(
        intent=str(values["intent"]),
        confidence=num("confidence"),
        margin=num("margin") if "margin" in values else 1.0,
        risk=str(values.get("risk") or "low"),
        out_of_scope=bool(values.get("out_of_scope")),
        frustration=num("frustration"),
        urgency=num("urgency"),
        score=num("score"),
        trend=str(values.get("trend") or "steady"),
        value=num("value"),
        tier=str(values.get("tier") or ""),
        prior_escalations=int(num("prior_escalations")),
        failures=int(num("failures")),
        clarifications=int(num("clarifications")),
        triggers=tuple(t for t in str(triggers).split(",") if t) if triggers else (),
        sentiment_label=str(values.get("sentiment_label") or "neutral"),
        act=str(values.get("act") or "new"),
        answered=bool(values.get("answered")),
    )


def _threshold_only(bundle: PolicyBundle) -> set[str]:
    return {name for name, t in bundle.policy.triggers.items() if not t.patterns and not t.events}


def _retrigger(candidate: PolicyBundle, live: PolicyBundle, x: PolicyInputs) -> tuple[str, ...]:
    """The live triggers, with those that test only frustration or failures recomputed under ``candidate``."""
    recomputed = _threshold_only(live) | _threshold_only(candidate)
    kept = [t for t in x.triggers if t not in recomputed]
    spec = candidate.taxonomy.by_name.get(x.intent)
    names = [*(spec.escalate_on if spec else [])]
    names += [n for n, t in candidate.policy.triggers.items() if t.always and n not in names]
    for name in names:
        trig = candidate.policy.triggers.get(name)
        if name not in recomputed or trig is None or name in kept:
            continue
        hit = trig.frustration_at_least is not None and x.frustration >= trig.frustration_at_least
        hit = hit or (trig.failures_at_least is not None and x.failures >= trig.failures_at_least)
        if hit:
            kept.append(name)
    return tuple(kept)


def replay(candidate: PolicyBundle, live: PolicyBundle, result: dict[str, Any]) -> Route | None:
    """The route ``candidate`` would have taken on this recorded turn; None for a turn a person owned."""
    decision = result.get("decision")
    action = str(result.get("action") or "none")
    if action == "none" or not decision:
        return None
    tripped = [g for g in result.get("guards", []) if g.get("tripped")]
    for g in tripped:
        if g.get("stage") == "input" and g.get("effect") in ("handoff", "block"):
            return Route(action, str(decision.get("rule")), str(decision.get("reason")))
    x = inputs_from(list(decision.get("factors", [])))
    if x is None:
        return Route(action, str(decision.get("rule")), str(decision.get("reason")))
    x = PolicyInputs(**{**x.__dict__, "triggers": _retrigger(candidate, live, x)})
    t = candidate.policy.thresholds
    if x.failures >= t.repeated_failures:
        return Route("escalate", "guard:repeated_failure", "repeated_failure")
    if any(g.get("guard") == "restated_issue" for g in tripped):
        return Route("escalate", "guard:restated_issue", "restated_issue")
    if x.value >= t.high_value and x.trend == "rising" and x.frustration >= t.trend_value_frustration:
        return Route("escalate", "guard:trend_value", "trend_value")
    decided = decide(candidate, x, options=[])
    if decided["action"] != "escalate" and any(
        g.get("stage") in ("output", "stream") and g.get("effect") == "handoff" for g in tripped
    ):
        return Route("escalate", "guard:output", "unsafe_output")
    return Route(decided["action"], decided["rule"], decided["reason"])
