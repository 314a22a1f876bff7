"""The combined analysis a model returns in one call (intent + sentiment + urgency), its JSON schema, and how
it merges with the offline engine's results."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tactful.agents.engine.seam import IntentResult, SentimentResult
from tactful.agents.state import SentimentState, SentimentTurn, Trend, Usage

SentimentLabel = Literal["calm", "positive", "negative", "frustrated", "distressed"]
OOS_LABEL = "out_of_scope"


class Analysis(BaseModel):
    """What the model says about the latest message. Validate with ``context={"labels": [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intent: str
    confidence: float = Field(ge=0.0, le=1.0)
    runner_up: str | None
    sentiment: SentimentLabel
    frustration: float = Field(ge=0.0, le=1.0)
    urgency: float = Field(ge=0.0, le=1.0)
    hurried: bool

    @field_validator("intent", "runner_up")
    @classmethod
    def _known_label(cls, value: str | None, info: ValidationInfo) -> str | None:
        labels = (info.context or {}).get("labels")
        if value is not None and labels is not None and value not in labels:
            raise ValueError(f"unknown intent {value!r}; use one of the listed labels")
        return value


def analysis_schema(labels: Sequence[str]) -> dict[str, object]:
    """The JSON schema sent with the request: strict-mode compatible, intent labels as an enum."""
    enum = list(labels)
    # Ranges live in descriptions: some strict or guided decoders reject "minimum"; pydantic checks them.
    unit = {"type": "number", "description": "from 0 to 1"}
    props: dict[str, object] = {
        "intent": {"type": "string", "enum": enum},
        "confidence": unit,
        "runner_up": {"anyOf": [{"type": "string", "enum": enum}, {"type": "null"}]},
        "sentiment": {"type": "string", "enum": list(SentimentLabel.__args__)},  # type: ignore[attr-defined]
        "frustration": unit,
        "urgency": unit,
        "hurried": {"type": "boolean"},
    }
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def schema_text(labels: Sequence[str]) -> str:
    return json.dumps(analysis_schema(labels), separators=(",", ":"))


def parse_analysis(raw: str, labels: Sequence[str]) -> Analysis:
    """Validate the model's raw JSON; raises pydantic's ValidationError (a ValueError) on a misfit."""
    return Analysis.model_validate_json(_strip_fence(raw), context={"labels": set(labels)})


def _strip_fence(raw: str) -> str:
    text = raw.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text


def merge_intent(offline: IntentResult, analysis: Analysis, *, usage: Usage | None) -> IntentResult:
    """The model's label and confidence; the runner-up's confidence comes from the offline model if known."""
    runner = analysis.runner_up if analysis.runner_up != analysis.intent else None
    if runner is None:
        runner_conf = 0.0
    elif runner == offline.label:
        runner_conf = offline.confidence
    elif runner == offline.runner_up:
        runner_conf = offline.runner_up_confidence
    else:
        runner_conf = round((1.0 - analysis.confidence) / 2, 4)
    return IntentResult(
        label=analysis.intent,
        confidence=analysis.confidence,
        runner_up=runner,
        runner_up_confidence=min(runner_conf, analysis.confidence),
        out_of_scope=analysis.intent == OOS_LABEL,
        source="model",
        usage=usage,
    )


def merge_sentiment(
    offline: SentimentResult,
    analysis: Analysis,
    *,
    previous: SentimentState | None,
    trend: Callable[[Sequence[float]], tuple[Trend, float]],
    usage: Usage | None,
) -> SentimentResult:
    """Average the model's frustration and urgency with this turn's offline reading, then redo the trend.

    Markers, restatement and history stay offline (deterministic); a distress marker found offline always
    keeps the ``distressed`` label, whatever the model says.
    """
    state = offline.state
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
    return SentimentResult(state=merged, restated=offline.restated, source="model", usage=usage)
