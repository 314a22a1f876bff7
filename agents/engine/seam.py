"""The one seam between specialists and whatever does the thinking.

Every specialist that could use a language model asks an :class:`Engine`. Three implement it, in this package:
the embedded offline engine (``offline``), any OpenAI-compatible server (``openai_compatible``) and a scripted
fake (``scripted``). Requests and results are small pydantic models; results say whether they are degraded (the
model failed and the offline engine answered) and what they cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from tactful.agents.state import (
    AccountContext,
    DecisionState,
    Event,
    IntentState,
    Message,
    SentimentState,
    Usage,
)

Tone = Literal["standard", "brief", "steady"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class IntentRequest(_Model):
    turn_key: str  # conversation id + turn: lets an engine share one model call between specialists
    text: str
    messages: Sequence[Message] = ()
    previous: IntentState | None = None


class IntentResult(_Model):
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    runner_up: str | None = None
    runner_up_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    out_of_scope: bool = False
    source: Literal["offline", "model", "scripted"] = "offline"
    degraded: bool = False
    usage: Usage | None = None


class SentimentRequest(_Model):
    turn_key: str
    text: str
    turn: int
    previous: SentimentState | None = None
    prior_user_texts: Sequence[str] = ()
    events: Sequence[Event] = ()
    last_bot_action: str | None = None
    failures: int = 0
    channel: str | None = None
    device: str | None = None


class SentimentResult(_Model):
    state: SentimentState
    restated: bool = False
    source: Literal["offline", "model", "scripted"] = "offline"
    degraded: bool = False
    usage: Usage | None = None


class ReplyRequest(_Model):
    turn_key: str
    action: Literal["respond", "clarify", "assist", "handoff", "block"]
    tone: Tone
    intent: IntentState | None
    sentiment: SentimentState | None
    decision: DecisionState | None
    context: AccountContext
    messages: Sequence[Message]
    summary: str = ""
    events: Sequence[Event] = ()
    options: Sequence[str] = ()
    runner_up_intent: str | None = None
    queue: str | None = None
    wait_minutes: int | None = None


class SummaryRequest(_Model):
    turn_key: str
    messages: Sequence[Message]
    intent: IntentState | None
    sentiment: SentimentState | None
    reason: str
    tried: Sequence[str]
    context: AccountContext


class SummaryResult(_Model):
    summary: str
    source: Literal["offline", "model", "scripted"] = "offline"
    degraded: bool = False
    usage: Usage | None = None


class DraftChunk(_Model):
    """A piece of a streamed draft; the last chunk of a stream carries usage and degradation."""

    text: str
    usage: Usage | None = None
    degraded: bool = False


@runtime_checkable
class Engine(Protocol):
    """What every engine can do. All methods are async; ``draft`` streams."""

    name: str

    async def classify(self, request: IntentRequest) -> IntentResult: ...

    async def assess(self, request: SentimentRequest) -> SentimentResult: ...

    def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]: ...

    async def summarize(self, request: SummaryRequest) -> SummaryResult: ...
