"""A scripted engine: answers from lists given up front and records every call. For tests, evals and users'
own tests — a real module behind the same seam as the offline and model engines.

    engine = ScriptedEngine(replies=["Open Settings, then Security.", ModelUnavailableError("down")])
    ctx = build_context(settings, engine_factory=engine.bind, cache=False)
    ...  # run turns
    engine.assert_used_up()

Each list is consumed in order by its own method (``classify`` ← ``intents``, ``assess`` ← ``sentiments``,
``draft`` ← ``replies``, ``summarize`` ← ``summaries``, ``write_copy`` ← ``copies``), so parallel specialists
never take each other's answers. An exception in a list stands for a failing model: the fallback engine answers
and the result is ``degraded`` (without a fallback the exception is raised). When a list runs out the fallback
answers; without one the call fails with :class:`tactful.errors.EngineError`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from tactful.agents.engine.seam import (
    CopyRequest,
    CopyResult,
    DraftChunk,
    Engine,
    IntentRequest,
    IntentResult,
    ReplyRequest,
    SentimentRequest,
    SentimentResult,
    SummaryRequest,
    SummaryResult,
)
from tactful.agents.state import OOS_LABEL
from tactful.errors import EngineError
from tactful.settings import Settings

CallKind = Literal["classify", "assess", "draft", "summarize", "write_copy"]
AnsweredBy = Literal["script", "fallback", "failure"]
Request = IntentRequest | SentimentRequest | ReplyRequest | SummaryRequest | CopyRequest
SCRIPTED_SUBJECT = "Scripted"


@dataclass(frozen=True)
class ScriptedCall:
    """One call the engine received, and who answered it."""

    kind: CallKind
    request: Request
    answered_by: AnsweredBy


class ScriptedEngine:
    """:class:`tactful.agents.engine.seam.Engine` that answers from lists; see the module docstring."""

    name = "scripted"

    def __init__(
        self,
        *,
        replies: Sequence[str | BaseException] = (),
        intents: Sequence[IntentResult | str | BaseException] = (),
        sentiments: Sequence[SentimentResult | BaseException] = (),
        summaries: Sequence[str | BaseException] = (),
        copies: Sequence[CopyResult | str | BaseException] = (),
        fallback: Engine | None = None,
    ) -> None:
        self.fallback = fallback
        self._queues: dict[CallKind, deque[object]] = {
            "classify": deque(intents),
            "assess": deque(sentiments),
            "draft": deque(replies),
            "summarize": deque(summaries),
            "write_copy": deque(copies),
        }
        self.calls: list[ScriptedCall] = []

    # ------------------------------------------------------------------ inspection

    def bind(self, settings: Settings, offline: Engine) -> ScriptedEngine:
        """An ``EngineFactory`` for :func:`tactful.graphs.context.build_context`: uses ``offline`` as the fallback
        unless one was given."""
        if self.fallback is None:
            self.fallback = offline
        return self

    def remaining(self) -> dict[CallKind, int]:
        """Scripted answers not consumed yet, per method."""
        return {kind: len(queue) for kind, queue in self._queues.items()}

    def calls_of(self, kind: CallKind) -> list[ScriptedCall]:
        return [call for call in self.calls if call.kind == kind]

    def assert_used_up(self) -> None:
        """Fail (AssertionError) when some scripted answer was never asked for."""
        left = {kind: n for kind, n in self.remaining().items() if n}
        if left:
            raise AssertionError(f"scripted answers left unused: {left}")

    # ------------------------------------------------------------------ engine

    def _next(self, kind: CallKind) -> object | None:
        queue = self._queues[kind]
        return queue.popleft() if queue else None

    def _need_fallback(self, kind: CallKind, item: object | None) -> Engine:
        if isinstance(item, BaseException) and self.fallback is None:
            raise item
        if self.fallback is None:
            raise EngineError(f"the scripted engine has no more answers for {kind} and no fallback")
        return self.fallback

    def _record(self, kind: CallKind, request: Request, item: object | None) -> None:
        who: AnsweredBy = (
            "failure" if isinstance(item, BaseException) else "fallback" if item is None else "script"
        )
        self.calls.append(ScriptedCall(kind=kind, request=request, answered_by=who))

    async def classify(self, request: IntentRequest) -> IntentResult:
        item = self._next("classify")
        self._record("classify", request, item)
        if isinstance(item, IntentResult):
            return item
        if isinstance(item, str):
            return IntentResult(
                label=item, confidence=1.0, out_of_scope=item == OOS_LABEL, source="scripted"
            )
        result = await self._need_fallback("classify", item).classify(request)
        return result.model_copy(update={"degraded": True}) if item is not None else result

    async def assess(self, request: SentimentRequest) -> SentimentResult:
        item = self._next("assess")
        self._record("assess", request, item)
        if isinstance(item, SentimentResult):
            return item
        result = await self._need_fallback("assess", item).assess(request)
        return result.model_copy(update={"degraded": True}) if item is not None else result

    async def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]:
        item = self._next("draft")
        self._record("draft", request, item)
        if isinstance(item, str):
            for piece in re.findall(r"\S+\s*", item):
                yield DraftChunk(text=piece)
            return
        async for chunk in self._need_fallback("draft", item).draft(request):
            yield chunk
        if item is not None:
            yield DraftChunk(text="", degraded=True)

    async def summarize(self, request: SummaryRequest) -> SummaryResult:
        item = self._next("summarize")
        self._record("summarize", request, item)
        if isinstance(item, str):
            return SummaryResult(summary=item, source="scripted")
        result = await self._need_fallback("summarize", item).summarize(request)
        return result.model_copy(update={"degraded": True}) if item is not None else result

    async def write_copy(self, request: CopyRequest) -> CopyResult:
        """A scripted text is the body; it gets a subject line on e-mail only, as every copy does."""
        item = self._next("write_copy")
        self._record("write_copy", request, item)
        if isinstance(item, str):
            item = CopyResult(subject=SCRIPTED_SUBJECT, body=item, source="scripted")
        if isinstance(item, CopyResult):
            return item if request.channel == "email" else item.model_copy(update={"subject": None})
        result = await self._need_fallback("write_copy", item).write_copy(request)
        return result.model_copy(update={"degraded": True}) if item is not None else result
