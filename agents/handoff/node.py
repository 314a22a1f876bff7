"""Handoff summarizer: the agent-ready packet (fixed schema, completeness-checked) and the user-facing notice.

After this node the conversation is in ``human`` mode: the graph sends no bot reply until a person returns it.
"""

from __future__ import annotations

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from tactful.agents.archive import graph_thread_id, history
from tactful.agents.context import TurnContext
from tactful.agents.engine.offload import off_loop
from tactful.agents.engine.seam import IntentRequest, ReplyRequest, SummaryRequest
from tactful.agents.guards.redact import mask
from tactful.agents.guards.rules import SENSITIVE_REASON
from tactful.agents.intent.node import NOT_AN_ISSUE, to_state
from tactful.agents.policy.files import HandoffPriority
from tactful.agents.responder.chat_run import ReplyRun
from tactful.agents.responder.node import choose_tone
from tactful.agents.state import DecisionState, HandoffPacket, IntentState, Priority, SupportState

REQUIRED_FIELDS = (
    "summary", "intent", "sentiment_trend", "account", "tried", "reason", "recommended_next_step",
    "confidence", "priority", "queue", "transcript_ref",
)


def completeness(packet: HandoffPacket) -> tuple[float, list[str]]:
    """Share of required fields that carry information, and the names of the missing ones."""
    missing: list[str] = []
    for name in REQUIRED_FIELDS:
        value = packet.get(name)
        if value is None or value == "" or value == [] or value == {}:
            missing.append(name)
    return round(1 - len(missing) / len(REQUIRED_FIELDS), 3), missing


def priority_of(
    *,
    reason: str,
    risk: str,
    frustration: float,
    urgency: float,
    value: float,
    high_value: float,
    rules: HandoffPriority,
) -> Priority:
    """How urgent the handoff is, by the tenant's ``handoff.priority`` policy."""
    head, _, topic = reason.rpartition(":")
    high_value_account = value >= high_value
    if (head and topic in rules.urgent_topics) or (high_value_account and frustration >= rules.frustration):
        return "urgent"
    if (
        frustration >= rules.frustration
        or urgency >= rules.urgency
        or high_value_account
        or risk in rules.high_risks
    ):
        return "high"
    if reason in rules.low_reasons:
        return "low"
    return "normal"


def _fired(decision: DecisionState | None, reason: str) -> list[str]:
    """Trigger names behind a handoff: the sensitive topic, or the escalation triggers the policy saw."""
    if reason.startswith(SENSITIVE_REASON + ":"):
        return [reason.split(":", 1)[1]]
    for factor in decision["factors"] if decision else []:
        if factor["name"] == "triggers" and factor["value"]:
            return str(factor["value"]).split(",")
    return []


def queue_for(ctx: TurnContext, decision: DecisionState | None, intent: IntentState | None, reason: str) -> str:
    """A trigger with its own queue (fraud, safety, a lockout) wins; otherwise the issue's queue."""
    for name in _fired(decision, reason):
        trigger = ctx.bundle.policy.triggers.get(name)
        if trigger and trigger.queue:
            return trigger.queue
    if intent and not intent["out_of_scope"]:
        return intent["queue"]
    return ctx.bundle.taxonomy.out_of_scope.queue


async def issue_intent(ctx: TurnContext, state: SupportState) -> IntentState | None:
    """The intent the packet is about: the issue under way rather than "wants a person", and, when a guard
    halted before the classifier ran, the latest customer words classified offline (no model call)."""
    intent = state.get("intent")
    issue = state.get("issue")
    if issue and (intent is None or intent["out_of_scope"] or intent["label"] in NOT_AN_ISSUE):
        return issue
    if intent is None:
        said = [m["text"] for m in state.get("messages", []) if m["role"] == "user"]
        if said:
            result = await off_loop(
                ctx.offline.classify_now,
                IntentRequest(turn_key=f"{state.get('conversation_id', '')}:handoff-intent", text=said[-1])
            )
            return to_state(ctx, result)
    return intent


async def handoff_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    turn = state.get("turn", 1)
    decision = state.get("decision")
    reason = decision["reason"] if decision else "default"
    intent = await issue_intent(ctx, state)
    sentiment = state.get("sentiment")
    context = state.get("context", {})
    whole = await history(runtime.store, graph_thread_id(), state)
    messages = whole["messages"]
    tried = [*whole["tried"], *ctx.notes.events(state.get("events", [])[-5:])]
    summary = await ctx.engine.summarize(
        SummaryRequest(
            turn_key=f"{state.get('conversation_id', '')}:{turn}:handoff",
            messages=messages,
            intent=intent,
            sentiment=sentiment,
            reason=reason,
            tried=tried,
            context=context,
        )
    )
    base_reason = reason.split(":", 1)[0]
    next_steps = ctx.bundle.policy.handoff.next_steps
    queue = queue_for(ctx, decision, intent, reason)
    value = float(context.get("value", 0.0) or 0.0)
    packet: HandoffPacket = {
        "conversation_id": state.get("conversation_id", ""),
        "summary": mask(summary.summary),
        "intent": intent,
        "sentiment_trend": {
            "trend": sentiment["trend"] if sentiment else "steady",
            "label": sentiment["label"] if sentiment else "calm",
            "frustration": sentiment["frustration"] if sentiment else 0.0,
            "worst": sentiment["worst"] if sentiment else 0.0,
            "history": [h["frustration"] for h in sentiment["history"]] if sentiment else [],
        },
        "account": context,
        "tried": tried or [ctx.notes.tried.nothing_yet],
        "reason": reason,
        "recommended_next_step": next_steps.get(reason, next_steps.get(base_reason, next_steps.get("default", ""))),
        "confidence": intent["confidence"] if intent else 0.0,
        "priority": priority_of(
            reason=reason,
            risk=intent["risk"] if intent else "low",
            frustration=sentiment["frustration"] if sentiment else 0.0,
            urgency=sentiment["urgency"] if sentiment else 0.0,
            value=value,
            high_value=ctx.bundle.policy.thresholds.high_value,
            rules=ctx.bundle.policy.handoff.priority,
        ),
        "queue": queue,
        "transcript_ref": f"/v1/conversations/{state.get('conversation_id', '')}",
        "transcript": [{**m, "text": mask(m["text"])} for m in messages],
        "created_at": ctx.now().isoformat(),
        "completeness": 0.0,
        "missing": [],
        "failed_turns": list(state.get("failed_turns", [])),
    }
    packet["completeness"], packet["missing"] = completeness(packet)

    wait = ctx.bundle.policy.handoff.queue_wait_minutes
    notice_request = ReplyRequest(
        turn_key=f"{state.get('conversation_id', '')}:{turn}:notice",
        action="handoff",
        tone=choose_tone(sentiment, channel=context.get("channel"), device=context.get("device")),
        intent=intent,
        sentiment=sentiment,
        decision=decision,
        context=context,
        messages=messages[-6:],
        events=state.get("events", [])[-5:],
        queue=queue,
        wait_minutes=wait.get(queue, wait.get("default", 10)),
    )
    # The notice is a fixed template: a failing model must not be able to lose the handoff.
    notice = ctx.offline.render(notice_request)
    get_stream_writer()({"type": "handoff", "queue": queue, "reason": reason})
    told = await ReplyRun.start(name="handoff_notice", engine="template", transcript=messages[-6:])
    await told.piece(notice)
    await told.end()
    update: dict[str, object] = {
        "handoff": packet,
        "mode": "human",
        "reply": notice,
        "last_action": "escalate",
        **({"intent": intent} if state.get("intent") is None and intent else {}),
        "messages": [{"role": "bot", "text": notice, "turn": turn, "at": ctx.now().isoformat()}],
    }
    if summary.usage:
        update["usage"] = summary.usage
    if summary.degraded:
        update["degraded"] = True
    return update
