"""Intent classifier node: label, calibrated confidence and runner-up for the latest user message.

Short follow-ups ("ok", "order 4412", "still broken") keep the issue already under way, and an answer to a
clarifying question picks the option the person chose instead of being classified from scratch.
"""

from __future__ import annotations

import re
from functools import cache

from langgraph.runtime import Runtime

from tactful.agents.content import own_words
from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import IntentRequest, IntentResult
from tactful.agents.intent.evidence import weigh_evidence
from tactful.agents.policy.files import DialogueActs
from tactful.agents.state import OOS_LABEL, IntentCandidate, IntentState, SupportState

CARRY_MAX_WORDS = 8
UNPLACED_BELOW = 0.2  # a message of any length this unsure of every intent, mid-issue, is about that issue
UNPLACED_MAX_WORDS = 40
EVENT_HINT_BELOW = 0.5  # below this text confidence, an event of this turn that implies an intent decides
NOT_AN_ISSUE = {"human_request", "bot_identity"}
_ORDINALS = {"first": 0, "former": 0, "second": 1, "latter": 1}
# A bare number picks an option only when it is the whole answer ("2", "option 1", "the first one"): in "just one
# for a regular ride" or "one more question" it is a quantity, not a choice.
_CARDINALS = {"1": 0, "one": 0, "2": 1, "two": 1}
_CHOICE_FILLER = {"option", "number", "no", "the", "please", "pls", "its", "it", "s", "is", "one"}


@cache
def _function_words() -> frozenset[str]:
    # sklearn's list, imported on first use (a clarifying answer): a start-up that imports sklearn costs ~1 s
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _words(text: str, ignore: frozenset[str] = frozenset()) -> set[str]:
    """The content words of a text: function words ("that", "for", "your") match every option, so they choose none;
    nor do the fillers in ``ignore`` ("wrong", "right", "fine": a correction of a booking is no choice of "a charge
    that looks wrong")."""
    stop = _function_words()
    return {
        w
        for w in re.findall(r"[a-z0-9]+", text.lower())
        if (len(w) > 2 and w not in stop and w not in ignore) or w.isdigit()
    }


def pick_option(text: str, options: list[tuple[str, str]], ignore: frozenset[str] = frozenset()) -> str | None:
    """Which offered (label, phrase) the reply to a clarifying question chose, if any. Words in ``ignore`` (the
    taxonomy's evidence fillers) choose nothing."""
    tokens = re.findall(r"[a-z0-9]+", text.lower())
    for token in tokens[:3]:
        if token in _ORDINALS and _ORDINALS[token] < len(options):
            return options[_ORDINALS[token]][0]
    numbers = [t for t in tokens if t in _CARDINALS]
    if numbers and all(t in _CHOICE_FILLER or t in _CARDINALS for t in tokens):
        index = _CARDINALS[numbers[0]]
        if index < len(options):
            return options[index][0]
    said = _words(text, ignore)
    best, best_score = None, 0
    for label, phrase in options:
        score = len(said & (_words(phrase, ignore) | _words(label.replace("_", " "), ignore)))
        if score > best_score:
            best, best_score = label, score
    return best


def _keeps_issue(text: str, result: IntentResult, previous: IntentState, acts: DialogueActs) -> bool:
    """A follow-up stays on the issue under way unless it clearly raises another ("...and now I want to cancel")."""
    return (
        len(text.split()) <= 4
        or result.label == previous["label"]
        or result.out_of_scope
        or result.confidence < acts.new_issue_at
    )


def _placed(previous: IntentState | None, acts: DialogueActs) -> bool:
    """Is an issue under way: an earlier message the classifier placed with some confidence (or the person chose
    it, or an event pointed to it)? A low guess about an opening message is not an issue to carry."""
    return (
        previous is not None
        and not previous["out_of_scope"]
        and (previous["confidence"] >= acts.carry_below or previous["source"] in {"clarified", "event"})
    )


def _weigh_evidence(ctx: TurnContext, result: IntentResult, text: str) -> IntentResult:
    """An offline placement with no content word in common with its intent is a guess: cap its confidence
    (``out_of_scope.evidence``). The model engine's arbitration caps its own pick the same way
    (``agents/engine/analysis.py``); a model trusted with the whole label set (``analysis_trust=override``) reads
    meaning, not words, and keeps its confidence."""
    if result.source != "offline":
        return result
    return weigh_evidence(ctx.bundle.taxonomy, result, text)


def to_state(ctx: TurnContext, result: IntentResult, *, source: str | None = None) -> IntentState:
    spec = ctx.bundle.taxonomy.by_name.get(result.label)
    runner: IntentCandidate | None = (
        {"label": result.runner_up, "confidence": round(result.runner_up_confidence, 4)} if result.runner_up else None
    )
    return {
        "label": result.label,
        "confidence": round(result.confidence, 4),
        "runner_up": runner,
        "out_of_scope": result.out_of_scope,
        "risk": spec.risk if spec else "low",
        "queue": spec.queue if spec else ctx.bundle.taxonomy.out_of_scope.queue,
        "source": source or result.source,
    }


INTENT_HISTORY = 24
"""Top labels kept in ``intent_history`` (the policy reads the last two): the state does not grow with the
conversation."""


async def intent_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    # Pasted content (a forwarded e-mail, an invoice, a log) is data: the intent is what the customer asks about it
    raw = state["messages"][-1]["text"]
    text = own_words(raw) or raw
    previous = state.get("intent")
    request = IntentRequest(
        turn_key=f"{state.get('conversation_id', '')}:{state.get('turn', 0)}",
        text=text,
        messages=state.get("messages", [])[-8:],
        previous=previous,
    )
    result = await ctx.engine.classify(request)
    update: dict[str, object] = {}
    if result.usage:
        update["usage"] = result.usage
    if result.degraded:
        update["degraded"] = True

    scope = ctx.bundle.taxonomy.out_of_scope
    acts = ctx.bundle.taxonomy.dialogue_acts
    result = _weigh_evidence(ctx, result, text)
    under_way = _placed(previous, acts)
    if (
        not under_way
        and not result.out_of_scope
        and result.confidence < scope.unsure_below
        and len(text.split()) <= scope.unsure_max_words
    ):
        # nothing in the taxonomy explains this opening message: say what the bot covers, don't guess
        result = result.model_copy(update={"label": OOS_LABEL, "out_of_scope": True})
    intent = to_state(ctx, result)
    decision = state.get("decision")
    act = acts.classify(text, has_previous=previous is not None and not previous["out_of_scope"])
    if state.get("last_action") == "clarify" and previous and decision:
        offered = [
            (label, ctx.bundle.taxonomy.by_name[label].clarify)
            for label in [previous["label"], *([previous["runner_up"]["label"]] if previous["runner_up"] else [])]
            if label in ctx.bundle.taxonomy.by_name
        ]
        chosen = pick_option(text, offered, scope.evidence.ignore_words)
        if chosen:
            other = next((lab for lab, _ in offered if lab != chosen), None)
            intent = to_state(
                ctx,
                IntentResult(
                    label=chosen,
                    confidence=max(0.9, result.confidence if result.label == chosen else 0.0),
                    runner_up=other,
                    runner_up_confidence=0.05,
                ),
                source="clarified",
            )
            if act not in {"closing", "acknowledgement"}:  # "works now, thanks" answers and closes at once
                act = "new"
        elif act == "followup":
            # "it failed again" answers the question with the problem itself: it stays on the issue asked about
            intent = {**previous, "source": "carried"}
    elif previous and act != "new" and (act == "acknowledgement" or _keeps_issue(text, result, previous, acts)):
        intent = {**previous, "source": "carried"}
    else:
        # "thanks, done. the export button does nothing": the thanks closes nothing, a new issue starts.
        act = "new"
        words = len(text.split())
        if (
            previous
            and under_way
            and previous["label"] not in NOT_AN_ISSUE
            and (
                ((result.out_of_scope or result.confidence < acts.carry_below) and words <= CARRY_MAX_WORDS)
                or (not result.out_of_scope and result.confidence < UNPLACED_BELOW and words <= UNPLACED_MAX_WORDS)
            )
        ):
            intent = {**previous, "source": "carried"}
            act = "followup"
        elif result.out_of_scope or result.confidence < EVENT_HINT_BELOW:
            hinted = implied_by_events(ctx, state, result)
            if hinted:
                intent = hinted

    history = [*state.get("intent_history", []), intent["label"]][-INTENT_HISTORY:]
    update.update({"intent": intent, "intent_history": history, "act": act})
    if not intent["out_of_scope"] and intent["label"] not in NOT_AN_ISSUE:
        update["issue"] = intent
    return update


def implied_by_events(ctx: TurnContext, state: SupportState, result: IntentResult) -> IntentState | None:
    """An intent pointed to by a behavioural event of this turn (an account lock means an access problem)."""
    arrived = [e["type"] for e in state.get("new_events", [])]
    for spec in ctx.bundle.taxonomy.intents:
        if any(kind in spec.implied_by_events for kind in arrived):
            hinted = IntentResult(
                label=spec.name,
                confidence=max(EVENT_HINT_BELOW, result.confidence),
                runner_up=result.label if result.label != spec.name and not result.out_of_scope else None,
                runner_up_confidence=result.confidence if result.label != spec.name else 0.0,
            )
            return to_state(ctx, hinted, source="event")
    return None
