"""Sentiment reasoner node: per-turn score, trend over turns, frustration markers, urgency and events.

It also keeps the conversation's failure and restatement counters: a restated request, or negative feedback right
after the bot answered, means the bot's answer did not help.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import SentimentRequest
from tactful.agents.state import SupportState

FAILURE_MARKERS = {"bot_negative", "again", "nth_time", "restated", "terse_after_failure"}
FAILURE_EVENTS = {"mfa_failure", "failed_payment", "api_error_burst", "api_error", "account_locked", "product_error"}


async def sentiment_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    messages = state.get("messages", [])
    text = messages[-1]["text"]
    prior = [m["text"] for m in messages[:-1] if m["role"] == "user"]
    turn = state.get("turn", 1)
    events = state.get("events", [])
    context = state.get("context", {})
    request = SentimentRequest(
        turn_key=f"{state.get('conversation_id', '')}:{turn}",
        text=text,
        turn=turn,
        previous=state.get("sentiment"),
        prior_user_texts=prior[-10:],
        events=events,
        last_bot_action=state.get("last_action"),
        failures=state.get("failures", 0),
        channel=context.get("channel"),
        device=context.get("device"),
    )
    result = await ctx.engine.assess(request)
    update: dict[str, object] = {"sentiment": result.state}
    if result.usage:
        update["usage"] = result.usage
    if result.degraded:
        update["degraded"] = True

    markers = set(result.state["markers"])
    if result.restated:
        markers.add("restated")
        update["restatements"] = state.get("restatements", 0) + 1
    # After an answer, or after a clarifying question the person answers with "still broken, already tried that".
    answered_before = state.get("last_action") in {"respond", "assist", "clarify"}
    new_failure_events = [e for e in state.get("new_events", []) if e["type"] in FAILURE_EVENTS]
    # "Third time I'm asking" before the bot has said anything reports a failure from before this conversation.
    reported_earlier = not answered_before and "nth_time" in markers
    if (answered_before and (markers & FAILURE_MARKERS or new_failure_events)) or reported_earlier:
        update["failures"] = state.get("failures", 0) + 1
    return update
