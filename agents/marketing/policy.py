"""Schema of ``policies/marketing.yaml`` and loading it (per tenant, cached) with file/line errors.

Every threshold of the marketing decision lives in the file: hold windows, quiet hours, consent rules, the
buying stage → content mapping, the person-state rules, rep-routing topics and patterns, the discount policy,
the concierge threshold and the output guard's patterns. Regular expressions are compiled once, here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tactful.agents.marketing.models import (
    BuyingStage,
    Channel,
    ContentKind,
    Engagement,
    EventType,
    LifecycleStage,
    MarketingEvent,
    PersonState,
    SupportOutcome,
    Tier,
)
from tactful.config import Strict, line_in, load_yaml_model
from tactful.errors import ConfigError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _check_patterns(patterns: Sequence[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)  # as its users compile it: they find it in re's cache
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return list(patterns)


def _check_optional(patterns: Sequence[str] | None) -> list[str] | None:
    return None if patterns is None else _check_patterns(patterns)


def _compile(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One alternation of all patterns (faster than looping), or None when there are none."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# --------------------------------------------------------------------------- building blocks


class Window(Strict):
    """A daily local-time window; ``start`` after ``end`` wraps midnight (21:00 → 08:00)."""

    start: str
    end: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> str:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValueError(
                "must be a quoted 24-hour time like '21:00' (unquoted YAML reads 21:00 as a number)"
            )
        return value

    @cached_property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @cached_property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    def contains(self, local: time) -> bool:
        start, end = self.start_time, self.end_time
        if start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end


class EventMatch(Strict):
    """Which events count (type, support outcome, page pattern); ``min_count`` of them within the window."""

    types: list[EventType] = Field(min_length=1)
    outcomes: list[SupportOutcome] | None = None
    pages: list[str] | None = None
    min_count: int = Field(default=1, ge=1)
    within_hours: float | None = Field(default=None, gt=0, description="default: the policy's lookback")

    _valid = field_validator("pages")(_check_optional)

    @cached_property
    def page_re(self) -> re.Pattern[str] | None:
        return _compile(self.pages or [])

    @cached_property
    def type_set(self) -> frozenset[str]:
        return frozenset(self.types)

    @cached_property
    def window(self) -> timedelta | None:
        return timedelta(hours=self.within_hours) if self.within_hours else None

    def accepts(self, event: MarketingEvent) -> bool:
        if event.type not in self.type_set:
            return False
        if self.outcomes is not None and event.outcome not in self.outcomes:
            return False
        if self.page_re is not None:
            return event.page is not None and self.page_re.search(event.page) is not None
        return True

    def matching(
        self, events: Sequence[MarketingEvent], *, now: datetime, lookback: timedelta
    ) -> list[MarketingEvent]:
        """The matching events at or before ``now`` and inside the window, newest first."""
        since = now - (self.window or lookback)
        types = self.type_set
        return [e for e in events if e.type in types and since <= e.at <= now and self.accepts(e)]

    def holds(self, events: Sequence[MarketingEvent], *, now: datetime, lookback: timedelta) -> bool:
        return sum(e.count for e in self.matching(events, now=now, lookback=lookback)) >= self.min_count


# --------------------------------------------------------------------------- sections


class ChannelsPolicy(Strict):
    order: list[Channel] = Field(min_length=1, description="Fallback order when no channel is given")
    max_chars: dict[Channel, int] = {}
    """Longest body a channel takes; longer drafts fail the output guard."""


class ConsentPolicy(Strict):
    explicit_required: list[Channel]
    """Channels that need an explicit ``granted``; ``unknown`` is no consent."""
    implied_for_lifecycle: list[LifecycleStage] = []
    """On the other channels, ``unknown`` counts as consent for people in these lifecycle stages (soft
    opt-in)."""


class QuietHoursPolicy(Strict):
    default: Window | None
    channels: dict[Channel, Window | None] = {}
    """Per-channel windows; ``null`` exempts a channel (in-app messages wait until the app is opened)."""

    def window_for(self, channel: Channel) -> Window | None:
        if channel in self.channels:
            return self.channels[channel]
        return self.default


class HoldRule(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    match: EventMatch | None = None
    frustration_at_least: float | None = Field(default=None, gt=0, le=1)
    released_by: list[EventMatch] = []
    """An event matching any of these, after the latest triggering event, lifts the hold."""

    @model_validator(mode="after")
    def _has_trigger(self) -> HoldRule:
        if self.match is None and self.frustration_at_least is None:
            raise ValueError(f"hold {self.id!r} needs `match` or `frustration_at_least`")
        return self


class StateRule(Strict):
    """The first rule that holds names the person's state. Any of ``any`` / ``frustration_at_least`` /
    ``markers`` makes it hold (a rule with none holds always); ``stages`` and ``engagement`` restrict who it
    applies to."""

    state: PersonState
    any: list[EventMatch] = []
    frustration_at_least: float | None = Field(default=None, gt=0, le=1)
    markers: list[str] = []
    stages: list[BuyingStage] | None = None
    engagement: list[Engagement] | None = None


class StageRule(Strict):
    allow: list[ContentKind] = Field(min_length=1)
    prefer: list[ContentKind] = []


class ContentPolicy(Strict):
    promotional: list[ContentKind]
    hold_exempt: list[ContentKind] = ["help"]
    help_instead_states: list[PersonState] = ["struggling"]
    """People in these states get help instead of the campaign."""
    help_when_leaving_and_lost: bool = True
    """A leaving person who was looking for something (a help topic matched) gets help instead of the
    campaign."""
    leaving_allowed_kinds: list[ContentKind] = ["discount_offer", "help", "survey"]
    """What may still reach a leaving person who was not lost; anything else becomes help."""


class HelpTopic(Strict):
    """Signals that say what a lost or struggling person was looking for; the template of the same name
    answers."""

    pages: list[str] = []
    patterns: list[str] = []
    events: list[EventType] = []
    link: str

    _valid = field_validator("pages", "patterns")(_check_patterns)

    @cached_property
    def page_re(self) -> re.Pattern[str] | None:
        return _compile(self.pages)

    @cached_property
    def text_re(self) -> re.Pattern[str] | None:
        return _compile(self.patterns)


class RepTopic(Strict):
    label: str
    queue: str
    next_step: str
    patterns: list[str] = []
    """Matched against what the person wrote: the inquiry, form submissions, email replies, support texts."""
    pages: EventMatch | None = None
    """Page visits that signal the topic on their own."""
    page_stages: list[BuyingStage] | None = None
    """Page visits count only for people in these buying stages (a researcher reading /security is not a
    lead)."""
    priority: Literal["low", "normal", "high", "urgent"] = "normal"

    _valid = field_validator("patterns")(_check_patterns)

    @cached_property
    def text_re(self) -> re.Pattern[str] | None:
        return _compile(self.patterns)


class LeavingRule(Strict):
    """A leaving person with this much recent friction is routed to a person, never sent an offer."""

    friction_at_least: int = Field(ge=1)
    queue: str
    next_step: str
    label: str = "Leaving after repeated failures"


class RoutingPolicy(Strict):
    topics: dict[str, RepTopic]
    leaving_after_failures: LeavingRule


class FrictionKind(Strict):
    label: str
    match: EventMatch


class SentimentEvent(Strict):
    """Maps a marketing event to an event type of ``signals.yaml`` for the sentiment reasoner."""

    match: EventMatch
    signal: str


class DiscountPolicy(Strict):
    max_pct: float = Field(ge=0, le=100)
    allow_to_leaving: bool = True
    allow_to_leaving_after_failures: bool = False
    allowed_tiers: list[Tier] | None = None


class ConciergePolicy(Strict):
    min_value: float = Field(ge=0)
    tiers: list[Tier] = []
    """Accounts in these tiers are high value whatever their value."""
    frustration_at_least: float = Field(gt=0, le=1)
    urgent_at: float = Field(gt=0, le=1)
    holds: list[str] = []
    """Holds (by id) that raise an alert on a high-value account whatever the frustration."""
    on_leaving_after_failures: bool = True


class GuardPolicy(Strict):
    promotional: list[str]
    discount: list[str]
    channel_mentions: dict[Channel, list[str]] = {}
    """Phrases that invite contact on a channel; they may not appear when the person opted out of that
    channel."""

    _valid = field_validator("promotional", "discount")(_check_patterns)

    @field_validator("channel_mentions")
    @classmethod
    def _valid_mentions(cls, value: dict[Channel, list[str]]) -> dict[Channel, list[str]]:
        for patterns in value.values():
            _check_patterns(patterns)
        return value

    @cached_property
    def promotional_re(self) -> re.Pattern[str] | None:
        return _compile(self.promotional)

    @cached_property
    def discount_re(self) -> re.Pattern[str] | None:
        return _compile(self.discount)

    @cached_property
    def mention_re(self) -> dict[Channel, re.Pattern[str]]:
        out: dict[Channel, re.Pattern[str]] = {}
        for channel, patterns in self.channel_mentions.items():
            compiled = _compile(patterns)
            if compiled is not None:
                out[channel] = compiled
        return out


class MarketingPolicy(Strict):
    """The whole marketing policy of one tenant."""

    version: int = 1
    lookback_days: float = Field(gt=0)
    channels: ChannelsPolicy
    consent: ConsentPolicy
    quiet_hours: QuietHoursPolicy
    holds: list[HoldRule]
    friction: list[FrictionKind]
    sentiment_events: list[SentimentEvent] = []
    states: list[StateRule]
    stages: dict[BuyingStage, StageRule]
    content: ContentPolicy
    help_topics: dict[str, HelpTopic]
    routing: RoutingPolicy
    discount: DiscountPolicy
    concierge: ConciergePolicy
    guard: GuardPolicy

    @model_validator(mode="after")
    def _consistent(self) -> MarketingPolicy:
        ids = [h.id for h in self.holds]
        if len(set(ids)) != len(ids):
            raise ValueError("holds: every hold needs its own id")
        for name in self.concierge.holds:
            if name not in ids:
                raise ValueError(f"concierge.holds: unknown hold {name!r}")
        if "general" not in self.help_topics:
            raise ValueError("help_topics: a `general` topic is required (the fallback)")
        return self

    @cached_property
    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)


# --------------------------------------------------------------------------- loading


def _check_signals(policy: MarketingPolicy, path: Path, known_signals: set[str]) -> None:
    for i, item in enumerate(policy.sentiment_events):
        if item.signal not in known_signals:
            raise ConfigError(
                f"sentiment_events.{i}.signal: {item.signal!r} has no weight in signals.yaml",
                path=path,
                line=line_in(path, ["sentiment_events", i, "signal"]),
            )


_cache: dict[tuple[str, frozenset[str]], MarketingPolicy] = {}
_lock = threading.Lock()


def policy_path(policy_dir: Path, tenant: str | None = None) -> Path:
    """The tenant's own ``marketing.yaml`` when it has one, else the default file."""
    if tenant and tenant != "default":
        own = policy_dir / "tenants" / tenant / "marketing.yaml"
        if own.is_file():
            return own
    return policy_dir / "marketing.yaml"


def load_marketing_policy(path: Path, *, known_signals: set[str] | None = None) -> MarketingPolicy:
    """Load and validate one policy file (cached); a bad value raises ConfigError with file and line."""
    key = (str(path.resolve()), frozenset(known_signals or ()))
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    if not path.is_file():
        raise ConfigError("marketing policy file not found", path=path)
    policy = load_yaml_model(path, MarketingPolicy)
    if known_signals is not None:
        _check_signals(policy, path, known_signals)
    with _lock:
        _cache[key] = policy
    return policy


def clear_policy_cache() -> None:
    with _lock:
        _cache.clear()
