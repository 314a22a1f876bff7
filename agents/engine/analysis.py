"""The combined analysis a model returns in one call (intent + sentiment + urgency), as a pydantic type the JSON
schema is derived from, and how it merges with the offline engine's results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from tactful.agents.engine.seam import IntentResult, SentimentResult
from tactful.agents.intent.evidence import weigh_evidence
from tactful.agents.policy.files import Taxonomy
from tactful.agents.state import OOS_LABEL, SentimentLabel, SentimentState, SentimentTurn, Trend, Usage


class Analysis(BaseModel):
    """What the model says about the latest message. :func:`analysis_type` narrows the intent labels to a
    taxonomy's."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    intent: str
    confidence: float = Field(ge=0.0, le=1.0)
    runner_up: str | None
    sentiment: SentimentLabel
    frustration: float = Field(ge=0.0, le=1.0)
    urgency: float = Field(ge=0.0, le=1.0)
    hurried: bool


@lru_cache(maxsize=32)
def analysis_type(labels: tuple[str, ...]) -> type[Analysis]:
    """:class:`Analysis` whose ``intent`` and ``runner_up`` are one of ``labels`` (an enum in its schema)."""
    label: Any = Literal.__getitem__(labels)
    return create_model(
        "SupportAnalysis",
        __base__=Analysis,
        intent=(label, ...),
        runner_up=(label | None, ...),
    )


Trust = Literal["arbitrate", "override"]


def merge_intent(
    offline: IntentResult,
    analysis: Analysis,
    *,
    usage: Usage | None,
    trust: Trust = "arbitrate",
    taxonomy: Taxonomy | None = None,
    text: str = "",
) -> IntentResult:
    """The model's label; with ``trust="override"`` its confidence too, the runner-up's from the offline model if
    known.

    With ``trust="arbitrate"`` (the default) the model arbitrates between the offline classifier's own candidates
    (its label, its runner-up, out of scope when it found the message outside the taxonomy) and cannot bring in a
    label the offline model gave no weight: a small model's pick from outside the shortlist (a bot-identity
    question read as ``password_reset``, an errand as ``account_update``) is outvoted and the offline reading
    stands. The model picks the label, not how sure the bot is (:func:`_arbitrated_confidence`): a small model
    says 0.9 about a guess, and the policy's bars (failures that count, a high-risk handoff) read confidence.
    ``"override"`` trusts the model with the whole label set and its own confidence (a strong hosted model)."""
    if trust == "arbitrate" and analysis.intent not in _shortlist(offline):
        return offline.model_copy(update={"usage": usage})
    confidence = analysis.confidence
    if trust == "arbitrate":
        confidence = _arbitrated_confidence(offline, analysis)
    runner = analysis.runner_up if analysis.runner_up != analysis.intent else None
    if runner is None:
        runner_conf = 0.0
    elif runner == offline.label:
        runner_conf = offline.confidence
    elif runner == offline.runner_up:
        runner_conf = offline.runner_up_confidence
    else:
        runner_conf = round((1.0 - analysis.confidence) / 2, 4)
    merged = IntentResult(
        label=analysis.intent,
        confidence=confidence,
        runner_up=runner,
        runner_up_confidence=min(runner_conf, confidence),
        out_of_scope=analysis.intent == OOS_LABEL,
        source="model",
        usage=usage,
    )
    if trust == "arbitrate" and taxonomy is not None:
        merged = weigh_evidence(taxonomy, merged, text)
    return merged


def _arbitrated_confidence(offline: IntentResult, analysis: Analysis) -> float:
    """How sure the bot is of the model's pick among the offline candidates: never surer than the model says, nor
    than the offline classifier's calibrated confidence in its best reading — the model reorders the shortlist, it
    does not turn a guess into an issue the bot engaged (whose corrections would count as failed answers), nor a
    high-risk guess into a handoff: below the policy's bar a high-risk label asks its one question, whichever engine
    read it (the model is asked only below ``offline_confidence_skip``, 0.8 by default, the policy's high-risk bar);
    the explicit triggers (a person asked for, fraud, legal, safety, repeated failure) are the guards' and still
    hand off at once. The runner-up of a message the offline model found out of scope keeps its own probability:
    it is all the evidence there is."""
    support = offline.confidence
    if offline.out_of_scope and analysis.intent == offline.runner_up:
        support = offline.runner_up_confidence
    return round(min(analysis.confidence, support), 4)


def _shortlist(offline: IntentResult) -> set[str]:
    labels = {offline.label} | ({offline.runner_up} if offline.runner_up else set())
    return labels | ({OOS_LABEL} if offline.out_of_scope else set())


_NEGATIVE_SIDE = frozenset({"negative", "frustrated", "distressed"})


def merge_sentiment(
    offline: SentimentResult,
    analysis: Analysis,
    *,
    previous: SentimentState | None,
    trend: Callable[[Sequence[float]], tuple[Trend, float]],
    usage: Usage | None,
    trust: Trust = "arbitrate",
) -> SentimentResult:
    """Average the model's frustration and urgency with this turn's offline reading, then redo the trend.

    Markers, restatement and history stay offline (deterministic); a distress marker found offline always
    keeps the ``distressed`` label, whatever the model says. With ``trust="arbitrate"`` the model refines, it does
    not overturn: when its label is on the other side of the offline one (negative, frustrated or distressed
    against calm or positive), the offline reading stands whole. Measured with a 0.5B model, such disagreements
    were the model's misreads (a curt complaint read as positive, a polite decline as negative), and its
    frustration would move handoffs.
    """
    state = offline.state
    if trust == "arbitrate" and (analysis.sentiment in _NEGATIVE_SIDE) != (state["label"] in _NEGATIVE_SIDE):
        return offline.model_copy(update={"usage": usage})
    frustration = round((state["frustration"] + analysis.frustration) / 2, 4)
    urgency = round((state["urgency"] + analysis.urgency) / 2, 4)
    earlier = list(state["history"][:-1])
    last: SentimentTurn = {**state["history"][-1], "frustration": frustration, "urgency": urgency}
    history = [*earlier, last]
    direction, slope = trend([h["frustration"] for h in history])
    worst = max([frustration, *(h["frustration"] for h in earlier), previous["worst"] if previous else 0.0])
    label = "distressed" if state["label"] == "distressed" else analysis.sentiment
    merged: SentimentState = {
        **state,
        "frustration": frustration,
        "urgency": urgency,
        "label": label,
        "hurried": analysis.hurried,
        "trend": direction,
        "slope": slope,
        "worst": round(worst, 4),
        "history": history,
    }
    return SentimentResult(
        state=merged, restated=offline.restated, confirmed=offline.confirmed, source="model", usage=usage
    )
