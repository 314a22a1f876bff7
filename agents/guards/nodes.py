"""The guard nodes of the support graph: input, decision and output. Each can halt the turn into a handoff."""

from __future__ import annotations

from langgraph.runtime import Runtime

from tactful.agents.context import TurnContext
from tactful.agents.engine.offload import off_loop_if_long
from tactful.agents.engine.seam import IntentRequest
from tactful.agents.guards.rules import verdict
from tactful.agents.intent.node import to_state
from tactful.agents.state import DecisionState, Factor, GuardVerdict, IntentState, SupportState


def _tripped(verdicts: list[GuardVerdict], effect: str) -> GuardVerdict | None:
    return next((v for v in verdicts if v["effect"] == effect), None)


def _guard_decision(v: GuardVerdict, action: str) -> DecisionState:
    return {
        "action": action,  # type: ignore[typeddict-item]
        "rule": f"guard:{v['guard']}",
        "reason": v["reason"],
        "factors": [{"name": v["guard"], "value": v["detail"], "effect": f"{v['effect']} ({v['stage']} guard)"}],
        "options": [],
    }


async def input_guard_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    turn = state.get("turn", 1)
    text = state["messages"][-1]["text"]
    verdicts = await off_loop_if_long(
        len(text), ctx.guards.input_checks, text, turn=turn, injection_attempts=state.get("injection_attempts", 0)
    )
    update: dict[str, object] = {"guards": verdicts}
    trips = [v for v in verdicts if v["tripped"]]
    if trips:
        update["guard_log"] = trips
    if any(v["guard"] == "injection" and v["tripped"] for v in verdicts):
        update["injection_attempts"] = state.get("injection_attempts", 0) + 1
    halt = _tripped(verdicts, "handoff")
    if halt:
        decision = _guard_decision(halt, "escalate")
        if halt["guard"] == "injection":
            factors = _injection_factors(state, halt)
            decision["factors"] = [*decision["factors"], *factors]
            update["tried"] = [ctx.notes.tried.injection_attempts.format(attempts=factors[1]["value"])]
        update.update({"halted": True, "decision": decision})
    elif block := _tripped(verdicts, "block"):
        update["decision"] = _guard_decision(block, "respond")
        if intent := _legit_request(ctx, state, text):
            update["intent"] = intent
    return update


INJECTION_TRIGGER = "injection"  # support.yaml trigger whose queue reviews repeated attempts (trust and safety)


def _injection_factors(state: SupportState, now: GuardVerdict) -> list[Factor]:
    """The trigger that routes the handoff, and every attempt of the conversation with the layer that caught it."""
    earlier = [v for v in state.get("guard_log", []) if v["guard"] == "injection" and v["tripped"]]
    attempts = "; ".join(f"turn {v['turn']}: {v['detail']}" for v in [*earlier, now])
    return [{"name": "triggers", "value": INJECTION_TRIGGER, "effect": "queue (input guard)"},
            {"name": "injection_attempts", "value": attempts, "effect": "handoff (input guard)"}]


LEGIT_MIN_CONFIDENCE = 0.5


def _legit_request(ctx: TurnContext, state: SupportState, text: str) -> IntentState | None:
    """The low-risk support request that came with a blocked attack, if one is clear enough to answer with its
    template: the attack's sentences are left out, and nothing the attack said reaches the reply."""
    remainder = ctx.guards.detector.legit_remainder(text)
    if not remainder:
        return None
    result = ctx.offline.classify_now(IntentRequest(turn_key=f"{state.get('conversation_id', '')}:guard",
                                                    text=remainder))
    spec = ctx.bundle.taxonomy.by_name.get(result.label)
    if result.out_of_scope or spec is None or spec.risk != "low" or result.confidence < LEGIT_MIN_CONFIDENCE:
        return None
    return to_state(ctx, result)


def after_input_guard(state: SupportState) -> str | list[str]:
    if state.get("halted"):
        return "handoff"
    # Only a block tripped on *this* turn skips analysis; ``decision`` may still be last turn's.
    if _tripped(state.get("guards", []), "block"):
        return "responder"
    return ["intent", "sentiment"]


async def decision_guard_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    context = state.get("context", {})
    value = context.get("value")
    verdicts = ctx.guards.decision_checks(
        turn=state.get("turn", 1),
        failures=state.get("failures", 0),
        restatements=state.get("restatements", 0),
        sentiment=state.get("sentiment"),
        account_value=float(value) if value is not None else None,
    )
    update: dict[str, object] = {"guards": verdicts}
    trips = [v for v in verdicts if v["tripped"]]
    if trips:
        update["guard_log"] = trips
    halt = _tripped(verdicts, "handoff")
    decision = state.get("decision")
    if halt:
        merged = _guard_decision(halt, "escalate")
        if decision:
            merged["factors"] = [*merged["factors"], *decision["factors"]]
        update.update({"halted": True, "decision": merged})
    elif decision and decision["action"] == "escalate":
        update["halted"] = True
    return update


def after_decision_guard(state: SupportState) -> str:
    return "handoff" if state.get("halted") else "responder"


async def output_guard_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    """Final check of the whole draft; on pass the draft becomes the bot's reply."""
    ctx = runtime.context
    turn = state.get("turn", 1)
    draft = state.get("draft", "")
    if state.get("halted"):  # the stream guard already stopped this draft
        return {}
    if ctx.guards.passed(draft):  # the stream's last check read this whole draft: same checks, same verdict
        v = verdict("output", "output", turn=turn)
    else:
        v = await off_loop_if_long(len(draft), ctx.guards.output_check, draft, turn=turn)
    if v["tripped"]:
        return {"guards": [v], "guard_log": [v], "halted": True, "decision": _guard_decision(v, "escalate"),
                "draft": ""}
    decision = state.get("decision")
    action = decision["action"] if decision else "respond"
    return {
        "guards": [v],
        "reply": draft,
        "messages": [{"role": "bot", "text": draft, "turn": turn, "at": ctx.now().isoformat()}],
        "last_action": action,
        "attempts": state.get("attempts", 0) + (1 if action in {"respond", "assist"} else 0),
        "clarifications": state.get("clarifications", 0) + (1 if action == "clarify" else 0),
    }


def after_output_guard(state: SupportState) -> str:
    return "handoff" if state.get("halted") else "finish"
