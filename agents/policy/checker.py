"""The policy checker: a deterministic reading of the routing matrix in ``policies/support.yaml``.

Inputs are gathered into :class:`PolicyInputs`; the first rule whose every condition holds decides
``respond | clarify | assist | escalate``. Every input is recorded as a factor, and the ones the matched rule
tested are marked, so any decision can be explained after the fact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from langgraph.runtime import Runtime

from tactful.agents.content import own_words
from tactful.agents.context import TurnContext
from tactful.agents.policy.files import Condition, PolicyBundle
from tactful.agents.state import DecisionState, Factor, SupportState


@dataclass(frozen=True)
class PolicyInputs:
    intent: str
    confidence: float
    margin: float
    risk: str
    out_of_scope: bool
    frustration: float
    urgency: float
    score: float
    trend: str
    value: float
    tier: str
    prior_escalations: int
    failures: int
    clarifications: int
    triggers: tuple[str, ...] = field(default_factory=tuple)
    sentiment_label: str = "neutral"
    act: str = "new"
    answered: bool = False


def _checks(cond: Condition, x: PolicyInputs) -> list[tuple[str, bool]]:
    """(input name, holds) for every condition set on the rule."""
    out: list[tuple[str, bool]] = []
    if cond.trigger_fired is not None:
        out.append(("triggers", bool(x.triggers) == cond.trigger_fired))
    if cond.intents is not None:
        out.append(("intent", x.intent in cond.intents))
    if cond.risk is not None:
        out.append(("risk", x.risk in cond.risk))
    if cond.out_of_scope is not None:
        out.append(("out_of_scope", x.out_of_scope == cond.out_of_scope))
    if cond.confidence_below is not None:
        out.append(("confidence", x.confidence < cond.confidence_below))
    if cond.confidence_at_least is not None:
        out.append(("confidence", x.confidence >= cond.confidence_at_least))
    if cond.margin_below is not None:
        out.append(("margin", x.margin < cond.margin_below))
    if cond.frustration_at_least is not None:
        out.append(("frustration", x.frustration >= cond.frustration_at_least))
    if cond.urgency_at_least is not None:
        out.append(("urgency", x.urgency >= cond.urgency_at_least))
    if cond.score_below is not None:
        out.append(("score", x.score < cond.score_below))
    if cond.trend is not None:
        out.append(("trend", x.trend in cond.trend))
    if cond.value_at_least is not None:
        out.append(("value", x.value >= cond.value_at_least))
    if cond.tiers is not None:
        out.append(("tier", x.tier in cond.tiers))
    if cond.prior_escalations_at_least is not None:
        out.append(("prior_escalations", x.prior_escalations >= cond.prior_escalations_at_least))
    if cond.failures_at_least is not None:
        out.append(("failures", x.failures >= cond.failures_at_least))
    if cond.clarifications_below is not None:
        out.append(("clarifications", x.clarifications < cond.clarifications_below))
    if cond.sentiment_labels is not None:
        out.append(("sentiment_label", x.sentiment_label in cond.sentiment_labels))
    if cond.acts is not None:
        out.append(("act", x.act in cond.acts))
    if cond.answered is not None:
        out.append(("answered", x.answered == cond.answered))
    return out


def decide(bundle: PolicyBundle, x: PolicyInputs, *, options: list[str]) -> DecisionState:
    """Apply the matrix; never raises on well-formed inputs."""
    rule_id, action, reason, tested = "default", bundle.policy.default.action, bundle.policy.default.reason, set()
    for rule in bundle.policy.rules:
        checks = _checks(rule.when, x)
        if checks and all(ok for _, ok in checks):
            rule_id, action, reason = rule.id, rule.action, rule.reason
            tested = {name for name, _ in checks}
            break
    if action == "clarify" and x.clarifications >= bundle.policy.thresholds.max_clarifications:
        action, reason = "assist", "clarification_limit"
    factors: list[Factor] = []
    for name, value in asdict(x).items():
        if isinstance(value, tuple):
            value = ",".join(value) or None
        effect = f"{rule_id} -> {action}" if name in tested else "considered"
        factors.append({"name": name, "value": value, "effect": effect})
    return {"action": action, "rule": rule_id, "reason": reason, "factors": factors, "options": options}


# ---------------------------------------------------------------------- node


def _options(ctx_bundle: PolicyBundle, label: str, runner_up: str | None, action: str, option_human: str) -> list[str]:
    tax = ctx_bundle.taxonomy.by_name
    if action == "clarify":
        first = tax[label].clarify if label in tax else label.replace("_", " ")
        second = tax[runner_up].clarify if runner_up and runner_up in tax else "something else"
        return [first, second]
    if action == "assist" and label in tax:
        return [*tax[label].next_steps[:3], option_human]
    return []


def answered_before(state: SupportState) -> bool:
    """Did the bot's previous turn already answer the intent now under way?"""
    intent = state.get("intent")
    history = state.get("intent_history", [])
    return (
        intent is not None
        and state.get("last_action") in {"respond", "assist"}
        and len(history) >= 2
        and history[-2] == intent["label"]
    )


async def policy_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    from tactful.agents.guards.rules import fired_triggers

    ctx = runtime.context
    bundle = ctx.bundle
    intent = state.get("intent")
    sentiment = state.get("sentiment")
    context = state.get("context", {})
    text = own_words(state["messages"][-1]["text"]) or state["messages"][-1]["text"]  # pasted content is data
    label = intent["label"] if intent else "out_of_scope"
    spec = bundle.taxonomy.by_name.get(label)
    runner = intent["runner_up"] if intent else None
    frustration = sentiment["frustration"] if sentiment else 0.0
    failures = state.get("failures", 0)

    # A new, confidently classified issue starts its own clarification budget.
    history = state.get("intent_history", [])
    new_issue = (
        len(history) >= 2 and history[-1] != history[-2] and intent is not None and intent["source"] != "carried"
    )
    clarifications = 0 if new_issue and state.get("last_action") != "clarify" else state.get("clarifications", 0)

    names = [*(spec.escalate_on if spec else [])]
    names += [name for name, trig in bundle.policy.triggers.items() if trig.always and name not in names]
    triggers = fired_triggers(
        bundle,
        names,
        text=text,
        events=state.get("events", []),
        frustration=frustration,
        failures=failures,
    )
    inputs = PolicyInputs(
        intent=label,
        confidence=intent["confidence"] if intent else 0.0,
        margin=round((intent["confidence"] - runner["confidence"]) if intent and runner else 1.0, 4),
        risk=intent["risk"] if intent else "low",
        out_of_scope=intent["out_of_scope"] if intent else True,
        frustration=frustration,
        urgency=sentiment["urgency"] if sentiment else 0.0,
        score=sentiment["score"] if sentiment else 0.0,
        trend=sentiment["trend"] if sentiment else "steady",
        value=float(context.get("value", 0.0) or 0.0),
        tier=str(context.get("tier", "") or ""),
        prior_escalations=int(context.get("prior_escalations", 0) or 0),
        failures=failures,
        clarifications=clarifications,
        triggers=tuple(triggers),
        sentiment_label=sentiment["label"] if sentiment else "neutral",
        act=state.get("act", "new"),
        answered=answered_before(state),
    )
    decision = decide(bundle, inputs, options=[])
    decision["options"] = _options(
        bundle, label, runner["label"] if runner else None, decision["action"], ctx.templates.option_human
    )
    return {"decision": decision, "clarifications": clarifications}
