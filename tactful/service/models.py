"""Request and response models of the HTTP API. Requests forbid unknown fields, NaN/Infinity, NUL characters
and unencodable text, so nothing a client sends can break storage or serialization later."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    WithJsonSchema,
    model_validator,
)

from tactful.agents.state import (
    AccountContext,
    DecisionState,
    Event,
    GuardVerdict,
    HandoffPacket,
    IntentState,
    Message,
    SentimentState,
    Usage,
)
from tactful.config import json_number

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
ID_HELP = "1-128 characters: letters, digits and . _ : @ - (starting with a letter or digit)"
HandoffStatus = Literal["open", "claimed", "resolved", "returned"]
WebhookStatus = Literal["none", "pending", "delivered", "failed"]
PriorityName = Literal["low", "normal", "high", "urgent"]


def _clean(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


def _iso_time(value: object) -> object:
    """An ISO-8601 string (or a datetime from Python); a bare number is not a time here."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO-8601 date-time string")
    return value


# The rules pydantic enforces in code, stated in the JSON schema too (ECMA regexes).
NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"

CleanStr = Annotated[str, AfterValidator(_clean), Field(json_schema_extra={"pattern": NO_NUL})]
ShortStr = Annotated[str, Field(max_length=200, json_schema_extra={"pattern": NO_NUL}), AfterValidator(_clean)]
Ident = Annotated[str, Field(pattern=ID_PATTERN, description=ID_HELP)]
Text = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"pattern": NOT_BLANK}),
    AfterValidator(_clean),
    AfterValidator(_not_blank),
]
Finite = Annotated[float, Field(allow_inf_nan=False)]
# Numbers a client sends are kept in checkpoints (msgpack: 64-bit integers at most) and sent on as JSON: bounded to
# the integers every JSON parser agrees on (I-JSON, RFC 7493), which a float states exactly in the schema too.
NUMBER_MAX = 2**53 - 1
NUMBER_MIN = -NUMBER_MAX
NUMBER_HELP = f"a number from {NUMBER_MIN} to {NUMBER_MAX}"
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


ATTRIBUTE_KEY = r"^[a-z][a-z0-9_]{0,63}$"
MAX_ATTRIBUTES = 30


def bounded_number(value: object) -> bool:
    """An int or finite float from NUMBER_MIN to NUMBER_MAX (a bool is not a number here)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return NUMBER_MIN <= value <= NUMBER_MAX
    return isinstance(value, float) and math.isfinite(value) and NUMBER_MIN <= value <= NUMBER_MAX


def _attribute(value: object) -> str | bool | int | float:
    if isinstance(value, bool) or bounded_number(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and len(value) <= 200:
        return _clean(value)
    raise ValueError(f"must be a string of up to 200 characters, {NUMBER_HELP} or true/false")


def _detail(value: object) -> str | bool | int | float:
    if isinstance(value, bool) or bounded_number(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and len(value) <= 500:
        return _clean(value)
    raise ValueError(f"must be a string of up to 500 characters, {NUMBER_HELP} or true/false")


AttributeValue = Annotated[
    str | bool | int | float,
    PlainValidator(_attribute),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": 200, "pattern": NO_NUL},
                {"type": "number", "minimum": NUMBER_MIN, "maximum": NUMBER_MAX},
                {"type": "boolean"},
            ]
        }
    ),
]


DetailValue = Annotated[
    str | bool | int | float,
    PlainValidator(_detail),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": 500, "pattern": NO_NUL},
                {"type": "number", "minimum": NUMBER_MIN, "maximum": NUMBER_MAX},
                {"type": "boolean"},
            ]
        }
    ),
]


class AccountContextIn(ApiModel):
    """What the front end knows about the person; merged key by key into the conversation's context.

    Besides the fields below, up to 30 attributes of the tenant's own (``region``, ``role``, ``plan``...: keys in
    lower snake case, values a string, number or boolean) are kept as sent and reach the handoff packet."""

    model_config = ConfigDict(
        extra="allow",
        allow_inf_nan=False,
        # The rules on the tenant's own attributes, stated for clients (the validator below enforces them).
        json_schema_extra={"propertyNames": {"pattern": ATTRIBUTE_KEY}, "maxProperties": 11 + MAX_ATTRIBUTES},
    )
    __pydantic_extra__: dict[str, AttributeValue] = Field(init=False)

    account_id: ShortStr | None = None
    name: ShortStr | None = None
    tier: ShortStr | None = Field(default=None, description="free | pro | business | enterprise | vip")
    value: Annotated[float, Strict(), Field(ge=0, le=1e12, allow_inf_nan=False)] | None = Field(
        default=None, description="annual account value"
    )
    lifecycle_stage: ShortStr | None = None
    prior_escalations: Annotated[int, Ge(0), Le(1_000_000), BeforeValidator(json_number)] | None = None
    channel: ShortStr | None = Field(default=None, description="web | mobile | email | sms | voice")
    device: ShortStr | None = Field(default=None, description="desktop | mobile | tablet")
    return_visit: Annotated[bool, Strict()] | None = None
    sla_at_risk: Annotated[bool, Strict()] | None = None
    locale: ShortStr | None = None

    @model_validator(mode="after")
    def _attributes(self) -> AccountContextIn:
        extra = self.__pydantic_extra__ or {}
        if len(extra) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} attributes of your own, got {len(extra)}")
        bad = sorted(k for k in extra if not re.match(ATTRIBUTE_KEY, k))
        if bad:
            raise ValueError(f"attribute names must be lower snake case (a-z, 0-9, _; up to 64): {', '.join(bad)}")
        return self

    def to_state(self) -> AccountContext:
        return self.model_dump(exclude_none=True)  # type: ignore[return-value]


class EventIn(ApiModel):
    """A behavioural event: a failed payment, an MFA failure, an API error burst, rage clicks..."""

    type: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")]
    at: IsoTime | None = Field(default=None, description="when it happened (ISO-8601); default: now")
    detail: dict[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")], DetailValue] = Field(
        default_factory=dict, max_length=20, json_schema_extra={"additionalProperties": False}
    )

    def to_state(self, now: datetime) -> Event:
        at = self.at or now
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        event: Event = {"type": self.type, "at": at.isoformat()}
        if self.detail:
            event["detail"] = dict(self.detail)
        return event


class MessageIn(ApiModel):
    """One user message. ``message_id`` makes a retried POST idempotent: the same result, no second turn."""

    text: Text = Field(description="the user's message (longer than the configured limit: 413)")
    message_id: Ident | None = Field(default=None, description="client id of this message, for safe retries")
    context: AccountContextIn | None = None
    events: list[EventIn] = Field(default_factory=list, max_length=50)


class EventsIn(ApiModel):
    """Events (and context) for a person's open conversation, addressed by conversation or by person."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        # The two rules of the validator below, stated for clients: exactly one target; events or context.
        json_schema_extra={
            "allOf": [
                {
                    "oneOf": [
                        {"required": ["conversation_id"], "properties": {"conversation_id": {"type": "string"}}},
                        {"required": ["person_id"], "properties": {"person_id": {"type": "string"}}},
                    ]
                },
                {
                    "anyOf": [
                        {"required": ["events"], "properties": {"events": {"minItems": 1}}},
                        {"required": ["context"], "properties": {"context": {"type": "object"}}},
                    ]
                },
            ]
        },
    )

    conversation_id: Ident | None = None
    person_id: Ident | None = Field(default=None, description="the account_id given in a message's context")
    events: list[EventIn] = Field(default_factory=list, max_length=50)
    context: AccountContextIn | None = None

    @model_validator(mode="after")
    def _one_target(self) -> EventsIn:
        if (self.conversation_id is None) == (self.person_id is None):
            raise ValueError("give exactly one of conversation_id or person_id")
        if not self.events and self.context is None:
            raise ValueError("give events, context or both")
        return self


class EventsOut(BaseModel):
    """Where the events went. ``conversation_id`` is null when the person has no conversation yet: the events are
    held (``events_held`` in all for that person) and start their first conversation, by ``account_id``."""

    conversation_id: str | None
    turn: int
    events_added: int
    events_held: int = 0
    context: AccountContext
    sentiment: SentimentState | None


class DecisionRecord(BaseModel):
    """What one turn decided and why (explainable routing)."""

    turn: int
    at: str
    message_id: str | None
    mode: Literal["bot", "human"]
    action: str
    reply: str | None
    intent: IntentState | None
    decision: DecisionState | None
    guards: list[GuardVerdict] = Field(description="guards that tripped on this turn")
    degraded: bool


class StateSummary(BaseModel):
    intent: IntentState | None
    sentiment: SentimentState | None
    context: AccountContext
    last_action: str | None
    attempts: int
    failures: int
    restatements: int
    clarifications: int
    injection_attempts: int
    events: list[Event]
    usage_total: Usage | None


class HandoffOut(BaseModel):
    id: str
    conversation_id: str
    turn: int
    status: HandoffStatus
    queue: str
    priority: PriorityName
    reason: str
    assignee: str | None
    note: str | None
    webhook: WebhookStatus
    created_at: str
    updated_at: str
    claimed_at: str | None
    closed_at: str | None
    packet: HandoffPacket


class ConversationOut(BaseModel):
    conversation_id: str
    mode: Literal["bot", "human"]
    turn: int
    messages: list[Message]
    state: StateSummary
    decisions: list[DecisionRecord]
    handoffs: list[HandoffOut]


class HandoffList(BaseModel):
    items: list[HandoffOut]
    count: int


class ClaimIn(ApiModel):
    agent: Annotated[
        str,
        Field(min_length=1, max_length=200, json_schema_extra={"pattern": NOT_BLANK}),
        AfterValidator(_clean),
        AfterValidator(_not_blank),
    ]


class HumanReplyIn(ApiModel):
    text: Text
    agent: ShortStr | None = None


Note = Annotated[str, Field(max_length=2000, json_schema_extra={"pattern": NO_NUL}), AfterValidator(_clean)]


class CloseIn(ApiModel):
    agent: ShortStr | None = None
    note: Note | None = None


class Health(BaseModel):
    status: Literal["ok", "ready"]
    database: Literal["sqlite", "postgres"] | None = None
    tenants: int | None = None


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="where: `body.text`, `path.conversation_id`, `query.limit`...")
    message: str
    type: str = Field(description="pydantic's error type, e.g. `string_too_long`, `missing`")


class Problem(BaseModel):
    """Every error body (RFC 9457, ``application/problem+json``): a stable ``code`` to branch on, a one-line
    ``detail`` naming the problem, and for 422 each invalid field. Codes: docs/service.md."""

    type: str = Field(description="`urn:tactful:problem:<code>`")
    title: str
    status: int
    detail: str
    code: str = Field(description="stable error code, e.g. `conversation_busy`, `invalid_request`, `rate_limited`")
    instance: str | None = None
    errors: list[FieldProblem] | None = None
