"""The one seam between specialists and whatever does the thinking.

Every specialist that could use a language model asks an :class:`Engine` — the support specialists and the
marketing copywriter alike. Three implement it, in this package: the embedded offline engine (``offline``), any
OpenAI-compatible server (``openai_compatible``) and a scripted fake (``scripted``). Requests and results are small
pydantic models; results say whether they are degraded (the model failed and the offline engine answered) and what
they cost.

An engine that can fail answers through a :class:`Fallback` underneath it: the deterministic, synchronous half of
the offline engine (classify, assess, render the approved reply and copy, summarize extractively). The model
engine and the handoff node depend on that interface, never on the concrete offline engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from tactful.agents.marketing.models import Channel, Content, ContentKind, Goal, PersonState
from tactful.agents.policy.files import Taxonomy
from tactful.agents.state import (
    AccountContext,
    DecisionState,
    Event,
    IntentState,
    Message,
    SentimentState,
    Trend,
    Usage,
)

Tone = Literal["standard", "brief", "steady"]
Source = Literal["offline", "model", "scripted"]
Avoid = Literal["promotion", "discount", "pressure"]


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, arbitrary_types_allowed=True)


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
    source: Source = "offline"
    degraded: bool = False
    usage: Usage | None = None


class SentimentRequest(_Model):
    turn_key: str
    text: str
    turn: int
    previous: SentimentState | None = None
    prior_user_texts: Sequence[str] = ()
    prior_bot_texts: Sequence[str] = ()  # the bot's earlier turns, latest last
    events: Sequence[Event] = ()
    last_bot_action: str | None = None
    failures: int = 0
    channel: str | None = None
    device: str | None = None


class SentimentResult(_Model):
    state: SentimentState
    restated: bool = False
    confirmed: bool = False  # the customer confirms the bot got it right ("yes, that's it", "that works")
    source: Source = "offline"
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
    source: Source = "offline"
    degraded: bool = False
    usage: Usage | None = None


class DraftChunk(_Model):
    """A piece of a streamed draft; the last chunk of a stream carries usage and degradation."""

    text: str
    usage: Usage | None = None
    degraded: bool = False


class CopyRequest(_Model):
    """A decided marketing send: everything the copy may say, and what it must avoid."""

    goal: Goal
    kind: ContentKind
    state: PersonState
    channel: Channel
    content: Content
    first_name: str | None = None
    company: str | None = None
    help_topic: str = "general"
    help_link: str = ""
    max_chars: int | None = None
    avoid: tuple[Avoid, ...] = ()


class CopyResult(_Model):
    subject: str | None
    body: str
    source: Source = "offline"
    degraded: bool = False


@runtime_checkable
class Engine(Protocol):
    """What every engine can do. All methods are async; ``draft`` streams."""

    name: str

    async def classify(self, request: IntentRequest) -> IntentResult: ...

    async def assess(self, request: SentimentRequest) -> SentimentResult: ...

    def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]: ...

    async def summarize(self, request: SummaryRequest) -> SummaryResult: ...

    async def write_copy(self, request: CopyRequest) -> CopyResult: ...


@runtime_checkable
class Fallback(Engine, Protocol):
    """The engine under an engine that can fail: deterministic, immediate answers (no I/O), and the data they
    come from. The offline engine implements it."""

    @property
    def taxonomy(self) -> Taxonomy: ...

    def classify_now(self, request: IntentRequest) -> IntentResult: ...

    def assess_now(self, request: SentimentRequest) -> SentimentResult: ...

    def trend(self, frustration: Sequence[float]) -> tuple[Trend, float]:
        """Direction and slope of a frustration series, as the offline reasoner reads it."""
        ...

    def render(self, request: ReplyRequest) -> str:
        """The approved (templated) reply: what a model may rephrase, and what answers when it fails."""
        ...

    def human_footer(self, tone: Tone) -> str:
        """The closing line with the way to a person (ends a reply whose stream broke)."""
        ...

    def summarize_now(self, request: SummaryRequest) -> SummaryResult: ...

    def render_copy(self, request: CopyRequest) -> CopyResult:
        """The templated marketing copy: the model's draft to improve on, and the safe replacement."""
        ...
