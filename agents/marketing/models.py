"""The marketing generator's boundary: what a caller sends (a person, their recent events, a campaign) and the
decision that comes back (send / suppress / route_to_rep, with a reason code, factors and, when sending, the
message).

Input models forbid unknown keys, so a typo in a field name is a 422 / a reported batch line, never silently
ignored.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, Strict, field_validator

from tactful.config import JsonInt

Channel = Literal["email", "sms", "push", "in_app", "whatsapp"]
ConsentStatus = Literal["granted", "opted_out", "unknown"]
Tier = Literal["free", "pro", "business", "enterprise", "vip"]
LifecycleStage = Literal["lead", "trial", "onboarding", "active", "renewal", "churn_risk", "churned"]
BuyingStage = Literal["unaware", "researching", "evaluating", "deciding", "customer"]
Engagement = Literal["dormant", "light", "regular", "power"]
EventType = Literal[
    "support_conversation",  # a support chat / ticket; ``outcome`` says how it ended
    "handoff",  # a bot conversation handed to a person
    "failed_payment",
    "payment_recovered",
    "api_error_burst",  # a run of API errors; ``count`` = how many
    "product_error",
    "rage_click",
    "page_view",  # ``page`` = path or page name (pricing, security, soc2, cancel, settings/billing...)
    "form_submission",  # ``text`` = what the person wrote
    "email_reply",  # ``text`` = what the person wrote
    "email_open",
    "email_click",
    "feature_used",
]
SupportOutcome = Literal["resolved", "unresolved", "escalated", "abandoned", "reopened"]
Goal = Literal[
    "onboarding",
    "feature_adoption",
    "upsell",
    "renewal",
    "winback",
    "nurture",
    "demo_request",
    "event_invite",
    "support_followup",
]
ContentKind = Literal[
    "product_update",
    "educational",
    "case_study",
    "peer_review",
    "demo_invite",
    "discount_offer",
    "event_invite",
    "help",
    "survey",
]
PersonState = Literal["struggling", "leaving", "curious", "engaged", "steady"]
Action = Literal["send", "suppress", "route_to_rep"]
ReasonCode = Literal[
    # send
    "send_campaign",  # the campaign as planned, tone fitted to the person's state
    "send_low_pressure",  # a curious person: relevance without pressure
    "send_help",  # a struggling or lost person: help instead of the promotion
    "send_service",  # a help message during a hold (service, not promotion)
    # suppress
    "opted_out",
    "no_consent",
    "hold",
    "quiet_hours",
    "stage_mismatch",
    "discount_not_allowed",
    "guard_blocked",
    # route_to_rep
    "rep_topic",  # pricing exception, custom terms, procurement, legal review, security documentation
    "leaving_after_failures",
]


class _Input(BaseModel):
    # Built at import (no defer_build): the service's routes take these models as bodies, and FastAPI's
    # ``Body(alias=...)`` around a model not built yet makes pydantic warn that the alias has no effect.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _iso_time(value: object) -> object:
    """An ISO-8601 string (or a datetime from Python); a bare number is not a time here."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO-8601 date-time string with an offset")
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_time)]


@lru_cache(maxsize=1)
def zone_names() -> list[JsonValue]:
    """The IANA zone names (the schema's enum for ``timezone``): read from the tz database when a schema is
    built, not at import (~30 ms)."""
    return [*sorted(available_timezones())]


def _zone_enum(schema: dict[str, JsonValue]) -> None:
    schema["enum"] = zone_names()


@lru_cache(maxsize=1024)
def zone(key: str) -> ZoneInfo:
    """A cached IANA time zone; raises ``ValueError`` for an unknown name."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {key!r} (use an IANA name such as Europe/Berlin)") from exc


class AccountManager(_Input):
    """Who owns the account; a concierge alert names them."""

    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    slack: str | None = Field(default=None, max_length=200, description="Slack handle or channel")


class Profile(_Input):
    """The person and their account."""

    person_id: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"})
    first_name: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, max_length=200)
    tier: Tier = "free"
    account_value: Annotated[float, Strict()] = Field(
        default=0.0, ge=0, description="Annual account value in the tenant's currency"
    )
    lifecycle_stage: LifecycleStage = "active"
    buying_stage: BuyingStage = "customer"
    engagement: Engagement = "regular"
    consent: dict[Channel, ConsentStatus] = Field(
        default_factory=dict, description="Per channel: granted, opted_out, or unknown (absent = unknown)"
    )
    unsubscribed_all: Annotated[bool, Strict()] = Field(
        default=False, description="Opted out of all marketing on every channel"
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone of the person, for quiet hours",
        json_schema_extra=_zone_enum,
    )
    preferred_channel: Channel | None = None
    account_manager: AccountManager | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


class MarketingEvent(_Input):
    """One recent event. Fields beyond ``type`` and ``at`` apply to the types named in their description."""

    type: EventType
    at: IsoTime
    outcome: SupportOutcome | None = Field(default=None, description="support_conversation: how it ended")
    page: str | None = Field(default=None, max_length=500, description="page_view: path or page name")
    count: JsonInt = Field(
        default=1, ge=1, le=1_000_000, description="How many occurrences this event stands for"
    )
    text: str | None = Field(
        default=None, max_length=4000, description="What the person wrote (support, form, email reply)"
    )
    topic: str | None = Field(default=None, max_length=200, description="Subject of a support conversation")


class Content(_Input):
    """The candidate content the campaign would send, as structured pieces the copywriter assembles."""

    kind: ContentKind
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=1000)
    link: str | None = Field(default=None, max_length=1000)
    cta: str | None = Field(default=None, max_length=80, description="Call to action, e.g. 'Book a demo'")
    discount_pct: Annotated[float, Strict()] | None = Field(
        default=None, gt=0, le=100, description="discount_offer: percent off"
    )


class Campaign(_Input):
    campaign_id: str = Field(default="adhoc", max_length=200)
    goal: Goal
    content: Content


class MarketingRequest(_Input):
    """One person, their recent events and a campaign: should we send, hold, or hand to a human rep?"""

    request_id: str | None = Field(default=None, max_length=200, description="Caller's id; echoed back")
    profile: Profile
    events: list[MarketingEvent] = Field(default_factory=list, max_length=500)
    campaign: Campaign
    channel: Channel | None = Field(
        default=None,
        description="Channel to send on; default: the preferred channel, else the policy's order",
    )
    send_at: IsoTime | None = Field(default=None, description="Planned send time (default: now)")
    inquiry: str | None = Field(
        default=None, max_length=4000, description="What the person asked, if this was triggered by a request"
    )


# --------------------------------------------------------------------------- the decision


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionFactor(_Output):
    """One input the decision weighed: its value and what it pushed the decision toward."""

    name: str
    value: str | float | int | bool | None
    effect: str


class MarketingMessage(_Output):
    channel: Channel
    subject: str | None = Field(description="Email subject; none on sms / push / in-app")
    body: str
    kind: ContentKind = Field(
        description="What the message actually is (help may replace the campaign's content)"
    )
    tone: PersonState = Field(description="The state the tone was fitted to")
    source: Literal["offline", "model", "scripted"] = "offline"


class GuardCheck(_Output):
    """An output-guard finding on a draft (whatever produced it)."""

    code: Literal[
        "promo_during_hold",
        "promo_to_struggling",
        "discount_not_allowed",
        "discount_over_limit",
        "contradicts_consent",
        "personal_data",
        "too_long",
    ]
    detail: str
    fixed: bool = Field(description="True when the draft was replaced by a safe template that passed")


class RepPacket(_Output):
    """What the human rep needs: who, what they asked, stage, recent friction, and what not to do."""

    person_id: str
    name: str | None
    company: str | None
    account_id: str | None
    tier: Tier
    account_value: float
    lifecycle_stage: LifecycleStage
    buying_stage: BuyingStage
    topic: str
    topic_label: str
    queue: str
    asked: list[str] = Field(description="The person's own words and the pages that signalled the topic")
    friction: list[str] = Field(description="Recent friction, newest first")
    frustration: float
    state: PersonState
    contact_ok: list[Channel] = Field(description="Channels the person consents to")
    do_not_offer: list[str]
    recommended_next_step: str
    priority: Literal["low", "normal", "high", "urgent"]


class ConciergeAlert(_Output):
    """Raised for a high-value account showing frustration; delivered to its account manager."""

    account_manager: str | None
    priority: Literal["high", "urgent"]
    summary: str
    friction: list[str]
    delivered: bool
    error: str | None = None


class MarketingDecision(_Output):
    request_id: str | None
    person_id: str
    campaign_id: str
    action: Action
    reason: ReasonCode
    rule: str = Field(
        description="The policy rule or topic that decided (e.g. failed_payment, security_docs)"
    )
    explanation: str
    state: PersonState
    frustration: float
    factors: list[DecisionFactor]
    message: MarketingMessage | None = None
    retry_at: datetime | None = Field(
        default=None, description="quiet_hours: the next time a send is allowed"
    )
    suggested_kinds: list[ContentKind] = Field(default_factory=list, description="stage_mismatch: what fits")
    rep_packet: RepPacket | None = None
    concierge: ConciergeAlert | None = None
    guards: list[GuardCheck] = Field(default_factory=list)
    policy_version: int
    decided_at: datetime
