"""The model engine: any OpenAI-compatible server (OpenAI, Azure, vLLM, Ollama, llama.cpp) behind the seam.

Frugal by design. The offline engine answers first; the model is asked for an analysis only when the offline
intent confidence is below ``offline_confidence_skip`` (or the message looks out of scope), and then once for
both specialists: ``classify`` and ``assess`` of the same turn share one combined call (intent + sentiment +
urgency). The reply is one streamed call; clarifying questions, blocks and handoff notices stay templated. The
handoff summary is one call, and only for conversations long enough to need condensing; a marketing message is
one structured call. All calls of a turn share one budget of requests and time (at most ``turn_max_requests``
requests, retries and re-asks included). Whenever the model fails, however it fails, the fallback (the offline
engine, through :class:`~tactful.agents.engine.seam.Fallback`) answers and the result says ``degraded``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from tactful.agents.engine.analysis import Analysis, analysis_type, merge_intent, merge_sentiment
from tactful.agents.engine.budget import MEMO_SIZE, TurnBudget, TurnBudgets
from tactful.agents.engine.client import Clock, ModelClient, Sleep, Structured, UsageMeter
from tactful.agents.engine.copy_model import COPY_MAX_TOKENS, ModelCopy, copy_messages, copy_reask, copy_result
from tactful.agents.engine.offload import off_loop
from tactful.agents.engine.schema import schema_text
from tactful.agents.engine.seam import (
    CopyRequest,
    CopyResult,
    DraftChunk,
    Fallback,
    IntentRequest,
    IntentResult,
    ReplyRequest,
    SentimentRequest,
    SentimentResult,
    SummaryRequest,
    SummaryResult,
)
from tactful.agents.engine.tokens import ChatTurn, clip_tokens, count_chat, count_tokens, fit_chat
from tactful.agents.guards.untrusted import quote_untrusted
from tactful.agents.marketing.templates import load_marketing_templates
from tactful.agents.prompts import Prompt, load_prompt
from tactful.agents.state import OOS_LABEL, Message, Usage
from tactful.errors import EngineError, StreamCutError
from tactful.settings import Settings

PROMPTS = (
    "system/support",
    "system/reply",
    "system/analysis",
    "system/summary",
    "model/reply",
    "model/analysis",
    "model/summary",
    "model/reask",
)
OFFLINE_ACTIONS = frozenset({"block", "handoff", "clarify"})  # fixed templates: no model text needed
ANALYSIS_MAX_TOKENS = 120
SUMMARY_MAX_TOKENS = 250
ANALYSIS_HISTORY = 3  # earlier customer messages shown to the analysis
ROLE: dict[str, str] = {"user": "user", "bot": "assistant", "human_agent": "assistant"}
ACTION_TEXT = {
    "respond": "answer the customer's request with the approved steps",
    "assist": "offer the approved options and help the customer choose",
}


@dataclass(frozen=True)
class AnalysisOutcome:
    """The shared result of one turn's analysis call."""

    analysis: Analysis | None  # None: the model failed, the offline results stand (degraded)
    usage: Usage


@dataclass
class _Shared:
    task: asyncio.Task[AnalysisOutcome]
    claimed: bool = False  # the first specialist to read the outcome reports its usage; the other reports none


class OpenAIEngine:
    """:class:`tactful.agents.engine.seam.Engine` on an OpenAI-compatible server; ``fallback`` answers on failure."""

    name = "openai"

    def __init__(
        self,
        *,
        settings: Settings,
        fallback: Fallback,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.fallback = fallback
        self.clock = clock
        self.client = ModelClient(settings=settings, sleep=sleep, clock=clock)
        self.budgets = TurnBudgets(settings, clock=clock)
        folder = Path(settings.prompts_dir)
        self.prompts: dict[str, Prompt] = {name: load_prompt(folder, name) for name in PROMPTS}
        self.taxonomy = fallback.taxonomy
        self.labels: list[str] = [spec.name for spec in self.taxonomy.intents] + [OOS_LABEL]
        self._analyses: OrderedDict[str, _Shared] = OrderedDict()
        self._analysis_spec = Structured(
            name="support_analysis", output=analysis_type(tuple(self.labels)), reask=self.prompts["model/reask"]
        )
        self._analysis_system = self._render_analysis_system()
        copy_prompts = load_marketing_templates(folder).model
        self._copy_prompts = copy_prompts
        self._copy_spec = Structured(name="marketing_copy", output=ModelCopy, reask=copy_reask(copy_prompts))

    async def aclose(self) -> None:
        """Release the HTTP connections (call on service shutdown)."""
        await self.client.aclose()

    # ------------------------------------------------------------------ helpers

    def _model(self, specific: str | None) -> str:
        return specific or self.settings.model

    def budget(self, turn_key: str) -> TurnBudget:
        """The deadline and the requests left of the turn, shared by every model call of the turn."""
        return self.budgets.of(turn_key)

    def wants_model(self, offline: IntentResult) -> bool:
        """Ask the model only when the offline classifier is unsure or finds the message out of scope."""
        return offline.out_of_scope or offline.confidence < self.settings.offline_confidence_skip

    def _about_the_conversation(self, text: str, *, has_previous: bool) -> bool:
        """A closing ("found it, thanks") or an acknowledgement ("ok") is about the conversation, not a new
        request: the deterministic conversation acts read it, and a model's confident label for it would only
        start an issue nobody raised."""
        act = self.taxonomy.dialogue_acts.classify(text, has_previous=has_previous)
        return act in ("closing", "acknowledgement")

    def _render_analysis_system(self) -> str:
        lines = [f"- {spec.name}: {spec.description}" for spec in self.taxonomy.intents]
        lines.append(f"- {OOS_LABEL}: anything else (not a support request this assistant handles)")
        hint = ""
        if self.settings.structured_output == "json_object":
            hint = "\nJSON schema of the answer: " + schema_text(self._analysis_spec.output)
        return self.prompts["system/analysis"].render(labels="\n".join(lines), schema_hint=hint)

    # ------------------------------------------------------------------ analysis (classify + assess)

    async def classify(self, request: IntentRequest) -> IntentResult:
        offline = await off_loop(self.fallback.classify_now, request)
        earlier = [m["text"] for m in request.messages if m["role"] == "user"]
        if earlier and earlier[-1] == request.text:
            earlier = earlier[:-1]
        if not self.wants_model(offline) or self._about_the_conversation(request.text, has_previous=bool(earlier)):
            return offline
        outcome, usage = await self._shared_analysis(request.turn_key, request.text, earlier)
        if outcome.analysis is None:
            return offline.model_copy(update={"degraded": True, "usage": usage})
        return merge_intent(
            offline,
            outcome.analysis,
            usage=usage,
            trust=self.settings.analysis_trust,
            taxonomy=self.taxonomy,
            text=request.text,
        )

    async def assess(self, request: SentimentRequest) -> SentimentResult:
        offline = await off_loop(self.fallback.assess_now, request)
        gate = await off_loop(self.fallback.classify_now, IntentRequest(turn_key=request.turn_key, text=request.text))
        earlier = bool(request.prior_user_texts)
        if not self.wants_model(gate) or self._about_the_conversation(request.text, has_previous=earlier):
            return offline
        outcome, usage = await self._shared_analysis(request.turn_key, request.text, list(request.prior_user_texts))
        if outcome.analysis is None:
            return offline.model_copy(update={"degraded": True, "usage": usage})
        return merge_sentiment(
            offline,
            outcome.analysis,
            trust=self.settings.analysis_trust,
            previous=request.previous,
            trend=self.fallback.trend,
            usage=usage,
        )

    async def _shared_analysis(
        self, turn_key: str, text: str, earlier: Sequence[str]
    ) -> tuple[AnalysisOutcome, Usage | None]:
        """One analysis call per turn and message, however many specialists ask (bounded memo)."""
        key = f"{turn_key}\x00{hashlib.sha1(text.encode()).hexdigest()}"
        loop = asyncio.get_running_loop()
        shared = self._analyses.get(key)
        if shared is None or (not shared.task.done() and shared.task.get_loop() is not loop):
            task = loop.create_task(self._analyze(turn_key, text, list(earlier)[-ANALYSIS_HISTORY:]))
            shared = self._analyses[key] = _Shared(task)
            while len(self._analyses) > MEMO_SIZE:
                self._analyses.popitem(last=False)
        try:
            outcome = await asyncio.shield(shared.task)
        except Exception:
            if self._analyses.get(key) is shared:  # never replay a failure to a resumed turn
                del self._analyses[key]
            raise
        if shared.claimed:
            return outcome, None
        shared.claimed = True
        return outcome, outcome.usage

    async def _analyze(self, turn_key: str, text: str, earlier: list[str]) -> AnalysisOutcome:
        model = self._model(self.settings.model_analysis)
        history = "\n".join(f"- {clip_tokens(t, 120, model=model)}" for t in earlier) or "(none)"
        user = self.prompts["model/analysis"].render(
            history=history, text=clip_tokens(quote_untrusted(text), 600, model=model)
        )
        messages: list[ChatTurn] = [
            {"role": "system", "content": self._analysis_system},
            {"role": "user", "content": user},
        ]
        meter = UsageMeter(self.settings)
        try:
            analysis = await self.client.structured(
                model=model,
                messages=messages,
                spec=self._analysis_spec,
                budget=self.budget(turn_key),
                meter=meter,
                max_tokens=ANALYSIS_MAX_TOKENS,
            )
        except EngineError:
            return AnalysisOutcome(analysis=None, usage=meter.usage())
        return AnalysisOutcome(analysis=analysis, usage=meter.usage())

    # ------------------------------------------------------------------ reply

    def reply_messages(self, request: ReplyRequest, approved: str) -> list[ChatTurn]:
        """System text + this turn's brief, then as much recent conversation as fits the prompt budget."""
        model = self._model(self.settings.model_responder)
        intent = request.intent
        spec = self.taxonomy.by_name.get(intent["label"]) if intent else None
        topic = f"{spec.name}: {spec.description}" if spec else "not one of the supported topics"
        ctx = request.context
        customer = (
            ", ".join(f"{k} {ctx[k]}" for k in ("tier", "lifecycle_stage", "channel", "device") if ctx.get(k))
            or "no account details"
        )
        s = request.sentiment
        mood = (
            f"{s['label']}, frustration {s['frustration']:.2f} ({s['trend']}), "
            f"{'in a hurry' if s['hurried'] else 'not in a hurry'}"
            if s
            else "unknown"
        )
        summary = (
            "Earlier turns, summarized:\n"
            + clip_tokens(request.summary, self.settings.summary_token_budget, model=model)
            if request.summary
            else ""
        )
        brief = self.prompts["model/reply"].render(
            action=ACTION_TEXT.get(request.action, request.action),
            tone=request.tone,
            topic=topic,
            customer=customer,
            mood=mood,
            summary=summary,
            approved=approved,
        )
        system = "\n\n".join(
            [
                self.prompts["system/support"].render(company=self.settings.company_name),
                self.prompts["system/reply"].text,
                brief,
            ]
        )
        history: list[ChatTurn] = [
            {"role": ROLE[m["role"]], "content": quote_untrusted(m["text"]) if m["role"] == "user" else m["text"]}  # type: ignore[typeddict-item]
            for m in request.messages
            if m["role"] in ROLE
        ]
        return fit_chat(
            [{"role": "system", "content": system}],
            history,
            budget=self.settings.prompt_token_budget,
            model=model,
        )

    @staticmethod
    async def _offline_draft(text: str, *, usage: Usage | None, degraded: bool) -> AsyncIterator[DraftChunk]:
        for piece in re.findall(r"\S+\s*", text):
            yield DraftChunk(text=piece)
        if usage is not None or degraded:
            yield DraftChunk(text="", usage=usage, degraded=degraded)

    async def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]:
        """The model's reply, streamed in complete sentences. When the stream cannot be had, the approved
        template answers; when it breaks after sentences went out, it ends on the last complete one (the
        unfinished rest is never sent) and closes with the way to a person."""
        approved = self.fallback.render(request)
        if request.action in OFFLINE_ACTIONS:
            async for chunk in self._offline_draft(approved, usage=None, degraded=False):
                yield chunk
            return
        model = self._model(self.settings.model_responder)
        messages = self.reply_messages(request, approved)
        meter = UsageMeter(self.settings)
        sent = ""
        cut: EngineError | None = None
        try:
            stream = self.client.stream(
                model=model,
                messages=messages,
                budget=self.budget(request.turn_key),
                meter=meter,
                max_tokens=self.settings.reply_max_tokens,
            )
            async with aclosing(stream):
                async for sentence in stream:
                    first = not sent
                    sent += sentence
                    # The first chunk already reports the call: a draft the guard stops is still counted.
                    early = meter.usage() if first else None
                    if early is not None:
                        early["prompt_tokens"] = count_chat(messages, model=model)
                    yield DraftChunk(text=sentence, usage=early)
        except EngineError as exc:
            cut = exc
        if not sent.strip():
            async for chunk in self._offline_draft(approved, usage=meter.usage(), degraded=True):
                yield chunk
            return
        broke = cut is not None and not (isinstance(cut, StreamCutError) and cut.reason == "length")
        tail = "\n" + self.fallback.human_footer(request.tone) if broke else ""
        yield DraftChunk(text=tail, usage=meter.usage(), degraded=broke)

    # ------------------------------------------------------------------ handoff summary

    async def summarize(self, request: SummaryRequest) -> SummaryResult:
        offline = await off_loop(self.fallback.summarize_now, request)
        customer_messages = sum(1 for m in request.messages if m["role"] == "user")
        if customer_messages < self.settings.model_summary_min_user_messages:
            return offline
        model = self._model(self.settings.model_summarizer)
        system = self.prompts["system/summary"].text
        i = request.intent
        s = request.sentiment
        facts = {
            "reason": request.reason.replace("_", " "),
            "intent": f"{i['label']} (confidence {i['confidence']:.2f})" if i else "unknown",
            "sentiment": f"{s['label']}, frustration {s['frustration']:.2f}, {s['trend']}" if s else "unknown",
            "account": ", ".join(f"{k} {v}" for k, v in request.context.items()) or "unknown",
            "tried": "; ".join(request.tried[-6:]) or "nothing yet",
        }
        summary_prompt = self.prompts["model/summary"]
        room = self.settings.prompt_token_budget - count_chat(
            [
                {"role": "system", "content": system},
                {"role": "user", "content": summary_prompt.render(**facts, transcript="")},
            ],
            model=model,
        )
        transcript = self.transcript(request.messages, budget=room, model=model)
        brief = summary_prompt.render(**facts, transcript=transcript)
        messages: list[ChatTurn] = [{"role": "system", "content": system}, {"role": "user", "content": brief}]
        meter = UsageMeter(self.settings)
        try:
            text = await self.client.complete(
                model=model,
                messages=messages,
                budget=self.budget(request.turn_key),
                meter=meter,
                max_tokens=SUMMARY_MAX_TOKENS,
            )
        except EngineError:
            return offline.model_copy(update={"degraded": True, "usage": meter.usage()})
        text = " ".join(text.split())
        if not text:
            return offline.model_copy(update={"degraded": True, "usage": meter.usage()})
        return SummaryResult(
            summary=clip_tokens(text, SUMMARY_MAX_TOKENS, model=model), source="model", usage=meter.usage()
        )

    @staticmethod
    def transcript(messages: Sequence[Message], *, budget: int, model: str) -> str:
        """The newest lines of the conversation that fit ``budget`` tokens, oldest first."""
        who = {"user": "Customer", "bot": "Bot", "human_agent": "Agent", "system": "System"}
        lines: list[str] = []
        used = 0
        for m in reversed(messages):
            line = f"{who[m['role']]}: {' '.join(m['text'].split())}"
            cost = count_tokens(line, model=model) + 1
            if used + cost > budget:
                break
            lines.append(line)
            used += cost
        return "\n".join(reversed(lines)) or "(too long to include)"

    # ------------------------------------------------------------------ marketing copy

    async def write_copy(self, request: CopyRequest) -> CopyResult:
        """One structured call per send, prompted with the facts and the template draft it may improve on; the
        template answers when the model fails."""
        template = self.fallback.render_copy(request)
        try:
            answer = await self.client.structured(
                model=self._model(self.settings.model_responder),
                messages=copy_messages(self._copy_prompts, request, template),
                spec=self._copy_spec,
                budget=self.budgets.fresh(),
                meter=UsageMeter(self.settings),
                max_tokens=COPY_MAX_TOKENS,
            )
        except EngineError:
            return template.model_copy(update={"degraded": True})
        return copy_result(answer, request, template)
