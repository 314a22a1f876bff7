"""The typed state shared by every node of the support graph.

State holds only JSON-shaped values (TypedDicts, lists, str, float) so that every checkpointer can store it
without custom serializers. Pydantic models validate data at the edges (engine outputs, the handoff packet)
and are dumped into these shapes. Run-scoped settings (tenant, engine, policy) travel in
:class:`tactful.agents.context.TurnContext`, never in state.
"""

from __future__ import annotations

import operator
from typing import Annotated, Literal, NotRequired, TypeVar

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from tactful.agents.chat_messages import to_message

T = TypeVar("T")

Role = Literal["user", "bot", "human_agent", "system"]
Mode = Literal["bot", "human"]
SupportAction = Literal["respond", "clarify", "assist", "escalate"]
Trend = Literal["rising", "falling", "steady"]
Priority = Literal["low", "normal", "high", "urgent"]
DialogueAct = Literal["new", "followup", "closing", "acknowledgement"]
SentimentLabel = Literal["calm", "positive", "negative", "frustrated", "distressed"]
"""How a message reads, worst last; the sentiment reasoner, the model's analysis and the state share it."""
OutOfScope = Literal["out_of_scope"]
OOS_LABEL: OutOfScope = "out_of_scope"
"""The intent label of a message no intent of the taxonomy covers (the classifier's real "none of these")."""


class Message(TypedDict):
    role: Role
    text: str
    turn: int
    at: str  # ISO-8601 UTC
    message_id: NotRequired[str]


class Event(TypedDict):
    """A behavioural event folded into the conversation (failed payment, MFA failure, rage clicks...)."""

    type: str
    at: str
    detail: NotRequired[dict[str, str | int | float | bool]]


@with_config(ConfigDict(extra="allow"))
class AccountContext(TypedDict, total=False):
    """What is known about the person. The keys below are the ones the specialists read; a tenant's own
    attributes (region, role, plan, a VIP flag...) ride along under their own names into the handoff packet."""

    account_id: str
    name: str
    tier: str  # free | pro | business | enterprise | vip
    value: float  # annual account value in the tenant's currency
    lifecycle_stage: str  # trial | onboarding | active | renewal | churn_risk
    prior_escalations: int
    channel: str  # web | mobile | email | sms | voice
    device: str  # desktop | mobile | tablet
    return_visit: bool
    sla_at_risk: bool
    locale: str


class IntentCandidate(TypedDict):
    label: str
    confidence: float


class IntentState(TypedDict):
    label: str  # an intent of the taxonomy, or OOS_LABEL
    confidence: float
    runner_up: IntentCandidate | None
    out_of_scope: bool
    risk: str  # low | medium | high
    queue: str
    source: str  # offline | model | carried (kept from an earlier turn)


class SentimentTurn(TypedDict):
    turn: int
    score: float  # VADER compound, -1..1
    frustration: float  # 0..1, after markers and events
    urgency: float  # 0..1
    markers: list[str]


class SentimentState(TypedDict):
    score: float
    frustration: float
    urgency: float
    label: SentimentLabel
    hurried: bool
    markers: list[str]
    trend: Trend
    slope: float
    worst: float  # highest frustration seen in this conversation
    history: list[SentimentTurn]


class Factor(TypedDict):
    name: str
    value: str | float | int | bool | None
    effect: str  # what the factor pushed the decision toward


class DecisionState(TypedDict):
    action: SupportAction
    rule: str  # id of the policy rule that decided
    reason: str  # reason code
    factors: list[Factor]
    options: list[str]  # next steps offered to the user (assist / clarify)


class GuardVerdict(TypedDict):
    guard: str
    stage: Literal["input", "decision", "output", "stream"]
    tripped: bool
    reason: str  # reason code, e.g. human_requested, sensitive_topic:fraud
    effect: Literal["handoff", "block", "fallback", "none"]  # fallback: a model draft replaced by the template
    detail: str
    turn: int


class FailedTurn(TypedDict):
    """A user turn that said the bot's previous answer or question had failed them, and how it said so."""

    turn: int
    signals: list[str]  # marker codes (correction, restated, bot_negative...) or failure event types


class HandoffPacket(TypedDict):
    conversation_id: str
    summary: str
    intent: IntentState | None
    sentiment_trend: dict[str, str | float | list[float]]
    account: AccountContext
    tried: list[str]
    reason: str
    recommended_next_step: str
    confidence: float
    priority: Priority
    queue: str
    transcript_ref: str
    transcript: list[Message]
    created_at: str
    completeness: float
    missing: list[str]
    failed_turns: NotRequired[list[FailedTurn]]  # the turns on which the customer told the bot it had failed


class Usage(TypedDict):
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def zero_usage() -> Usage:
    return {"model_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}


def add_usage(left: Usage | None, right: Usage | None) -> Usage:
    """Reducer: usage recorded by several nodes in one turn adds up; a node returning ``None`` resets it."""
    if right is None:
        return zero_usage()
    base = zero_usage()
    for part in (left, right):
        if part:
            base = {
                "model_calls": base["model_calls"] + part["model_calls"],
                "prompt_tokens": base["prompt_tokens"] + part["prompt_tokens"],
                "completion_tokens": base["completion_tokens"] + part["completion_tokens"],
                "cost_usd": round(base["cost_usd"] + part["cost_usd"], 8),
            }
    return base


def any_or_reset(left: bool | None, right: bool | None) -> bool:
    """Reducer: parallel nodes may each report a degraded result; ``None`` (returned by ingest) clears it."""
    if right is None:
        return False
    return bool(left) or right


def merge_context(left: AccountContext | None, right: AccountContext | None) -> AccountContext:
    """Reducer: context updates merge key by key; later values win."""
    merged: AccountContext = dict(left or {})  # type: ignore[assignment]
    merged.update(right or {})
    return merged


class Trim(TypedDict):
    """An update item that trims a windowed list (transcript, ``tried``, guard log) to its last ``keep_last``
    items once they are in the archive (:mod:`tactful.agents.archive`)."""

    keep_last: int


def _trim_of(item: object) -> int | None:
    if isinstance(item, dict) and len(item) == 1 and isinstance(item.get("keep_last"), int):
        return int(item["keep_last"])
    return None


def _trimmed(items: list[T], keep: int) -> list[T]:
    return items[len(items) - keep:] if 0 <= keep < len(items) else items


def append_or_trim(left: list[T] | None, right: list[T | Trim] | None) -> list[T]:
    """Reducer for a windowed list: items append; a :class:`Trim` keeps only the last items."""
    out: list[T] = list(left or [])
    for item in right or []:
        keep = _trim_of(item)
        if keep is None:
            out.append(item)  # type: ignore[arg-type]
        else:
            out = _trimmed(out, keep)
    return out


def append_messages(left: list[Message] | None, right: list[Message | Trim] | None) -> list[Message]:
    """Reducer for the transcript: messages append; a user message that arrives unstamped (``turn`` 0, as the
    runner sends it before the graph has counted the turn) gets the next turn number. LangChain-style messages
    (``{"role": "user", "content": ...}``, a ``HumanMessage``) are read into the transcript's shape. A
    :class:`Trim` keeps only the last messages (the older ones are in the archive)."""
    out = list(left or [])
    incoming = right if isinstance(right, list) else [right] if right is not None else []
    for item in incoming:
        keep = _trim_of(item)
        if keep is not None:
            out = _trimmed(out, keep)
            continue
        message = to_message(item)
        if message["role"] == "user" and not message.get("turn"):
            message = {**message, "turn": max((m["turn"] for m in out), default=0) + 1}
        out.append(message)
    return out


def append_or_reset(left: list[GuardVerdict] | None, right: list[GuardVerdict] | None) -> list[GuardVerdict]:
    """Reducer for the current turn's verdicts: lists append; ``None`` (returned by ingest) starts a new turn."""
    if right is None:
        return []
    return [*(left or []), *right]


class SupportState(TypedDict, total=False):
    conversation_id: str
    turn: int
    messages: Annotated[list[Message], append_messages]  # the latest messages when a store keeps the rest
    events: Annotated[list[Event], operator.add]
    new_events: list[Event]  # the events that arrived with this turn
    context: Annotated[AccountContext, merge_context]
    intent: IntentState | None
    intent_history: list[str]  # top label per user turn
    act: DialogueAct  # what the latest message does in the conversation
    issue: IntentState | None  # the last substantive intent (not a request for a person, not out of scope)
    clarifications: int  # clarifying questions asked for the current issue
    last_action: SupportAction | None
    sentiment: SentimentState | None
    decision: DecisionState | None
    guards: Annotated[list[GuardVerdict], append_or_reset]  # verdicts of the current turn
    guard_log: Annotated[list[GuardVerdict], append_or_trim]  # trips; the latest when a store keeps the rest
    tried: Annotated[list[str], append_or_trim]  # what the bot did, for the handoff packet (windowed likewise)
    archived: dict[str, int]  # per windowed list: items at the front of its window already in the archive
    attempts: int  # bot answers given on the current issue
    failures: int  # signals that a bot answer did not help
    failed_turns: Annotated[list[FailedTurn], operator.add]  # which turns said so, and how
    restatements: int  # times the user restated the same request
    injection_attempts: int
    halted: bool  # a guard stopped generation this turn
    draft: str
    reply: str
    mode: Mode
    handoff: HandoffPacket | None
    summary: str  # running summary of older turns (model engine prompt budget)
    usage: Annotated[Usage, add_usage]  # this turn
    usage_total: Usage  # whole conversation
    degraded: Annotated[bool, any_or_reset]  # the model failed this turn and the offline engine answered
