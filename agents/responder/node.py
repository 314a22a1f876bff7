"""Tone-adaptive responder: picks a tone from the person's state, drafts through the engine, and streams the
draft sentence by sentence — each piece is shown to the output guard before it may leave, so a guard can stop
the stream and nothing it would block reaches the client."""

from __future__ import annotations

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import ReplyRequest, Tone
from tactful.agents.engine.sentences import complete_up_to
from tactful.agents.engine.tokens import HISTORY_WINDOW, fold_history
from tactful.agents.responder.chat_run import ReplyRun
from tactful.agents.state import DecisionState, GuardVerdict, SentimentLabel, SentimentState, SupportState

STEADY_LABELS: frozenset[SentimentLabel] = frozenset({"frustrated", "distressed", "negative"})


def choose_tone(sentiment: SentimentState | None, *, channel: str | None, device: str | None) -> Tone:
    if sentiment and sentiment["label"] in STEADY_LABELS:
        return "steady"
    if (sentiment and sentiment["hurried"]) or channel in {"mobile", "sms"} or device == "mobile":
        return "brief"
    return "standard"


def _halted(v: GuardVerdict) -> dict[str, object]:
    decision: DecisionState = {
        "action": "escalate",
        "rule": "guard:stream",
        "reason": v["reason"],
        "factors": [{"name": "stream", "value": v["detail"], "effect": "handoff (stream guard)"}],
        "options": [],
    }
    return {"guards": [v], "guard_log": [v], "halted": True, "draft": "", "decision": decision}


async def responder_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    decision = state.get("decision")
    intent = state.get("intent")
    context = state.get("context", {})
    turn = state.get("turn", 1)
    blocked = bool(decision and decision["rule"] == "guard:injection")
    action = "block" if blocked else (decision["action"] if decision else "respond")
    messages = state.get("messages", [])
    summary = fold_history(messages, tried=state.get("tried", []), settings=ctx.settings)
    request = ReplyRequest(
        turn_key=f"{state.get('conversation_id', '')}:{turn}",
        action=action,  # type: ignore[arg-type]
        tone=choose_tone(state.get("sentiment"), channel=context.get("channel"), device=context.get("device")),
        intent=intent,
        sentiment=state.get("sentiment"),
        decision=decision,
        context=context,
        messages=messages[-HISTORY_WINDOW:],
        summary=summary,
        events=state.get("events", [])[-5:],
        options=decision["options"] if decision else [],
    )
    write = get_stream_writer()
    reply = await ReplyRun.start(name="reply", engine=ctx.engine.name, transcript=request.messages)
    text, sent = "", 0
    update: dict[str, object] = {"summary": summary} if summary != state.get("summary", "") else {}

    async def release(piece: str) -> None:
        write({"type": "token", "text": piece})
        await reply.piece(piece)

    try:
        async for chunk in ctx.engine.draft(request):
            if chunk.usage:
                update["usage"] = chunk.usage
            if chunk.degraded:
                update["degraded"] = True
            text += chunk.text
            # Release complete sentences only, each after the guard has seen everything up to it.
            cut = complete_up_to(text, sent)
            if cut > sent:
                v = ctx.guards.output_check(text[:cut], turn=turn, stage="stream")
                if v["tripped"]:
                    write({"type": "guard", "verdict": v})
                    return {**update, **_halted(v)}
                await release(text[sent:cut])
                sent = cut
        v = ctx.guards.output_check(text, turn=turn, stage="stream")
        if v["tripped"]:
            write({"type": "guard", "verdict": v})
            return {**update, **_halted(v)}
        if len(text) > sent:
            await release(text[sent:])
    finally:
        await reply.end()
    label = intent["label"] if intent else None
    return {**update, "draft": text, "tried": [ctx.notes.action(decision, label, turn)]}


def after_responder(state: SupportState) -> str:
    return "handoff" if state.get("halted") else "output_guard"
