"""The embedded offline engine: no key, no network, deterministic.

Intent: a scikit-learn model fit from the taxonomy's examples. Sentiment: VADER plus frustration markers, events and
a trend. Replies: templates from ``prompts/replies.yaml``. Handoff summaries: extractive, in the sentences of
``prompts/agent_notes.yaml``. Marketing copy: templates from ``prompts/marketing.yaml``. It is also the
:class:`~tactful.agents.engine.seam.Fallback` under the model engine.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from tactful.agents.engine.offload import off_loop, off_loop_if_long
from tactful.agents.engine.seam import (
    CopyRequest,
    CopyResult,
    DraftChunk,
    IntentRequest,
    IntentResult,
    ReplyRequest,
    SentimentRequest,
    SentimentResult,
    SummaryRequest,
    SummaryResult,
    Tone,
)
from tactful.agents.intent.background import Background, load_background, usable_background
from tactful.agents.intent.cache import cached_model
from tactful.agents.intent.model import IntentModel
from tactful.agents.marketing.templates import MarketingTemplates, render_copy
from tactful.agents.notes import SummaryLines
from tactful.agents.policy.files import Taxonomy
from tactful.agents.responder.templates import ReplyTemplates, render_offline
from tactful.agents.sentiment.model import SentimentReasoner
from tactful.agents.state import OOS_LABEL, Trend

SUMMARY_QUOTE_CHARS = 160  # the person's words quoted in the extractive summary, at most
SUMMARY_TRIED = 4  # the latest things tried that the extractive summary lists


def fit_taxonomy_model(
    taxonomy: Taxonomy, background: Background | None = None, *, cache_dir: Path | None = None
) -> IntentModel:
    """The offline model of ``taxonomy``; its out-of-scope examples and the usable ``background`` ones (the
    shipped ``policies/background.yaml`` unless the taxonomy sets ``out_of_scope.background: false``) tune the
    out-of-scope rule. With ``cache_dir`` the fitted form is kept there, keyed by all of these
    (:mod:`tactful.agents.intent.cache`), and read back instead of fitting again."""
    texts: list[str] = []
    labels: list[str] = []
    for spec in taxonomy.intents:
        texts.extend(spec.examples)
        labels.extend([spec.name] * len(spec.examples))
    oos = list(taxonomy.out_of_scope.examples)
    negatives = (background or load_background()) if taxonomy.out_of_scope.background else None

    def fit() -> IntentModel:
        extra = usable_background(negatives, texts) if negatives is not None else []
        return IntentModel.fit(texts, labels, oos_label=OOS_LABEL, oos_texts=[*oos, *extra])

    material = {
        "texts": texts,
        "labels": labels,
        "oos": oos,
        "background": None if negatives is None else negatives.model_dump(mode="json"),
        "fit": {"oos_label": OOS_LABEL},
    }
    return cached_model(material, fit, cache_dir=cache_dir, expect_labels=sorted(set(labels)))


class OfflineEngine:
    """:class:`~tactful.agents.engine.seam.Fallback`: every answer computed here, at once."""

    name = "offline"

    def __init__(
        self,
        *,
        taxonomy: Taxonomy,
        intent_model: IntentModel,
        reasoner: SentimentReasoner,
        templates: ReplyTemplates,
        summary: SummaryLines,
        copy_templates: MarketingTemplates,
    ) -> None:
        self._taxonomy = taxonomy
        self.intent_model = intent_model
        self.reasoner = reasoner
        self.templates = templates
        self.summary = summary
        self.copy_templates = copy_templates

    @property
    def taxonomy(self) -> Taxonomy:
        return self._taxonomy

    # ------------------------------------------------------------------ Fallback: immediate answers

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
            prior_bot_texts=request.prior_bot_texts,
        )
        restated = self.reasoner.restated(request.text, request.prior_user_texts)
        confirmed = not state["markers"] and self.reasoner.confirms(request.text)
        return SentimentResult(state=state, restated=restated, confirmed=confirmed, source="offline")

    def trend(self, frustration: Sequence[float]) -> tuple[Trend, float]:
        return self.reasoner.trend(frustration)

    def render(self, request: ReplyRequest) -> str:
        return render_offline(self.templates, request)

    def human_footer(self, tone: Tone) -> str:
        return self.templates.footer_human.pick(tone)

    def summarize_now(self, request: SummaryRequest) -> SummaryResult:
        return SummaryResult(summary=extractive_summary(self.summary, request), source="offline")

    def render_copy(self, request: CopyRequest) -> CopyResult:
        return render_copy(self.copy_templates, request)

    # ------------------------------------------------------------------ Engine

    async def classify(self, request: IntentRequest) -> IntentResult:
        return await off_loop_if_long(len(request.text), self.classify_now, request)

    async def assess(self, request: SentimentRequest) -> SentimentResult:
        longest = max(len(t) for t in (request.text, *request.prior_user_texts, *request.prior_bot_texts))
        return await off_loop_if_long(longest, self.assess_now, request)

    async def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]:
        text = self.render(request)
        for piece in re.findall(r"\S+\s*", text):
            yield DraftChunk(text=piece)

    async def summarize(self, request: SummaryRequest) -> SummaryResult:
        return await off_loop(self.summarize_now, request)

    async def write_copy(self, request: CopyRequest) -> CopyResult:
        return self.render_copy(request)


def _clip(text: str, limit: int = SUMMARY_QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def extractive_summary(lines: SummaryLines, request: SummaryRequest) -> str:
    """A few sentences built from the person's own words, the detected intent, events and what was tried."""
    user = [m["text"] for m in request.messages if m["role"] == "user"]
    parts: list[str] = []
    if request.intent and not request.intent["out_of_scope"]:
        parts.append(
            lines.intent.format(
                topic=request.intent["label"].replace("_", " "),
                confidence=f"{request.intent['confidence']:.2f}",
            )
        )
    if user:
        parts.append(lines.first_said.format(text=_clip(user[0])))
        if len(user) > 1:
            parts.append(lines.latest.format(text=_clip(user[-1])))
    if request.sentiment:
        s = request.sentiment
        parts.append(lines.mood.format(label=s["label"], frustration=f"{s['frustration']:.2f}", trend=s["trend"]))
    if request.tried:
        parts.append(lines.tried.format(steps="; ".join(request.tried[-SUMMARY_TRIED:])))
    parts.append(lines.reason.format(reason=request.reason.replace("_", " ")))
    return " ".join(parts)
