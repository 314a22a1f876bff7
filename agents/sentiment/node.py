"""Sentiment reasoner node: per-turn score, trend over turns, frustration markers, urgency and events.

It also keeps the conversation's failure and restatement counters: a restated request, a correction of what the
bot understood, a rejected answer, or negative feedback right after the bot answered means the bot's last turn
did not help. Each such turn is recorded (``failed_turns``) for the handoff packet. A turn that confirms the bot
got it right ("yes, that's correct") ends the run: failures count again from zero.
"""

from __future__ import annotations

from collections.abc import Iterable

from langgraph.runtime import Runtime

from tactful.agents.content import own_words
from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import SentimentRequest
from tactful.agents.state import FailedTurn, IntentState, SupportState

FAILURE_MARKERS = {
    "bot_negative", "again", "nth_time", "restated", "terse_after_failure",
    "correction", "rejected_answer", "sarcasm", "repeated_value", "question_repeated",
}
FAILURE_EVENTS = {"mfa_failure", "failed_payment", "api_error_burst", "api_error", "account_locked", "product_error"}
ANSWERING_ACTIONS = {"respond", "assist", "clarify"}
BOT_TEXTS = 3  # the bot's earlier turns the dialogue channel reads


def failure_signals(markers: Iterable[str], *, last_action: str | None) -> list[str]:
    """The markers of a turn that say the bot's previous turn failed (only once the bot has answered or asked;
    "third time I'm asking" on a first message reports a failure from before this conversation)."""
    found = set(markers)
    if last_action in ANSWERING_ACTIONS:
        return sorted(found & FAILURE_MARKERS)
    return ["nth_time"] if "nth_time" in found else []


def attempted_fix(answered: IntentState, min_confidence: float) -> bool:
    """Did the bot's last turn try to solve an issue? Not after an out-of-scope answer, nor after a low guess
    (below ``min_confidence``) at an issue nobody chose: "no, make it the 14th" then fails no attempt."""
    if answered["out_of_scope"]:
        return False
    return answered["confidence"] >= min_confidence or answered["source"] in {"clarified", "event"}


async def sentiment_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    messages = state.get("messages", [])
    # the customer's mood is in their own words: a pasted e-mail's "error" or "dispute" is not their frustration
    text = own_words(messages[-1]["text"]) or messages[-1]["text"]
    prior = [own_words(m["text"]) or m["text"] for m in messages[:-1] if m["role"] == "user"]
    bots = [m["text"] for m in messages[:-1] if m["role"] == "bot"]
    turn = state.get("turn", 1)
    events = state.get("events", [])
    context = state.get("context", {})
    request = SentimentRequest(
        turn_key=f"{state.get('conversation_id', '')}:{turn}",
        text=text,
        turn=turn,
        previous=state.get("sentiment"),
        prior_user_texts=prior[-10:],
        prior_bot_texts=bots[-BOT_TEXTS:],
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
    answered = state.get("intent")  # what the bot's last turn answered (this turn's intent runs alongside)
    out_of_scope = answered is not None and answered["out_of_scope"]
    if result.restated:
        markers.add("restated")
        if not out_of_scope:  # asking again for what the bot said it does not cover is not a missed issue
            update["restatements"] = state.get("restatements", 0) + 1
    last_action = state.get("last_action")
    tried_fix = answered is None or attempted_fix(answered, ctx.bundle.policy.thresholds.failure_min_confidence)
    signals = failure_signals(markers, last_action=last_action) if tried_fix else []
    # After an answer, or after a clarifying question the person answers with "still broken, already tried that".
    if last_action in ANSWERING_ACTIONS:
        signals += sorted({e["type"] for e in state.get("new_events", []) if e["type"] in FAILURE_EVENTS})
    if signals:
        update["failures"] = state.get("failures", 0) + 1
        failed: FailedTurn = {"turn": turn, "signals": signals}
        update["failed_turns"] = [failed]
    elif result.confirmed and state.get("failures", 0):
        # "Yes, that's right" after a failed turn: the bot got there; a later slip starts a new run.
        update["failures"] = 0
    return update
