"""The embedded offline engine: no key, no network, deterministic.

Intent: a scikit-learn model fit from the taxonomy's examples. Sentiment: VADER plus frustration markers, events and
a trend. Replies: templates from ``prompts/``. Handoff summaries: extractive.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

from tactful.agents.engine.seam import (
    DraftChunk,
    IntentRequest,
    IntentResult,
    ReplyRequest,
    SentimentRequest,
    SentimentResult,
    SummaryRequest,
    SummaryResult,
)
from tactful.agents.intent.model import IntentModel
from tactful.agents.policy.files import Taxonomy
from tactful.agents.responder.templates import ReplyTemplates, render_offline
from tactful.agents.sentiment.model import SentimentReasoner, SignalConfig
from tactful.resources import PROMPTS_DIR

OOS_LABEL = "out_of_scope"


def fit_taxonomy_model(taxonomy: Taxonomy) -> IntentModel:
    texts: list[str] = []
    labels: list[str] = []
    for spec in taxonomy.intents:
        texts.extend(spec.examples)
        labels.extend([spec.name] * len(spec.examples))
    return IntentModel.fit(texts, labels, oos_label=OOS_LABEL, oos_texts=taxonomy.out_of_scope.examples)


class OfflineEngine:
    name = "offline"

    def __init__(
        self,
        *,
        intent_model: IntentModel,
        reasoner: SentimentReasoner,
        templates: ReplyTemplates,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.intent_model = intent_model
        self.reasoner = reasoner
        self.templates = templates
        self.taxonomy = taxonomy  # the model engine lists its intents in the analysis prompt

    @classmethod
    def from_files(cls, taxonomy: Taxonomy, signals: SignalConfig, templates: ReplyTemplates) -> OfflineEngine:
        return cls(
            intent_model=fit_taxonomy_model(taxonomy),
            reasoner=SentimentReasoner(signals),
            templates=templates,
            taxonomy=taxonomy,
        )

    async def classify(self, request: IntentRequest) -> IntentResult:
        return self.classify_now(request)

    def classify_now(self, request: IntentRequest) -> IntentResult:
        pred = self.intent_model.predict_one(request.text)
        return IntentResult(
            label=pred.top_label if not pred.out_of_scope else OOS_LABEL,
            confidence=pred.confidence,
            runner_up=pred.runner_up,
            runner_up_confidence=pred.runner_up_confidence,
            out_of_scope=pred.out_of_scope,
            source="offline",
        )

    async def assess(self, request: SentimentRequest) -> SentimentResult:
        return self.assess_now(request)

    def assess_now(self, request: SentimentRequest) -> SentimentResult:
        state = self.reasoner.assess(
            request.text,
            turn=request.turn,
            previous=request.previous,
            prior_user_texts=request.prior_user_texts,
            events=request.events,
            last_bot_action=request.last_bot_action,
            failures=request.failures,
            channel=request.channel,
            device=request.device,
        )
        restated = self.reasoner.restated(request.text, request.prior_user_texts)
        return SentimentResult(state=state, restated=restated, source="offline")

    def render(self, request: ReplyRequest) -> str:
        return render_offline(self.templates, request)

    async def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]:
        text = self.render(request)
        for piece in re.findall(r"\S+\s*", text):
            yield DraftChunk(text=piece)

    async def summarize(self, request: SummaryRequest) -> SummaryResult:
        return SummaryResult(summary=extractive_summary(request), source="offline")


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def extractive_summary(request: SummaryRequest) -> str:
    """A few sentences built from the person's own words, the detected intent, events and what was tried."""
    user = [m["text"] for m in request.messages if m["role"] == "user"]
    parts: list[str] = []
    if request.intent and not request.intent["out_of_scope"]:
        parts.append(
            f"Customer needs help with {request.intent['label'].replace('_', ' ')} "
            f"(confidence {request.intent['confidence']:.2f})."
        )
    if user:
        parts.append(f'First said: "{_clip(user[0])}".')
        if len(user) > 1:
            parts.append(f'Latest: "{_clip(user[-1])}".')
    if request.sentiment:
        s = request.sentiment
        parts.append(f"Mood {s['label']}, frustration {s['frustration']:.2f} and {s['trend']}.")
    if request.tried:
        parts.append("Tried: " + "; ".join(request.tried[-4:]) + ".")
    parts.append(f"Handed off because: {request.reason.replace('_', ' ')}.")
    return " ".join(parts)


def default_prompts_dir() -> Path:
    return PROMPTS_DIR
