"""Fold a person's recent events into what the marketing decision needs: a frustration estimate (the support
sentiment reasoner, fed the person's own words and their behavioural events), friction, the person's state,
what a lost person was looking for, and which rep topics their words or page visits signal.

Pure and deterministic: no model, no I/O. The sentiment estimate is cached by (words, event signals), since a
batch repeats the same shapes many times.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from tactful.agents.guards.redact import mask
from tactful.agents.marketing.models import MarketingEvent, MarketingRequest, PersonState
from tactful.agents.marketing.policy import MarketingPolicy, StateRule
from tactful.agents.sentiment.model import SentimentReasoner
from tactful.agents.state import Event

TEXT_EVENTS = ("form_submission", "email_reply", "support_conversation")
MAX_SIGNAL_REPEATS = 3  # an event standing for many occurrences weighs like this many (repeats escalate)
TEXT_LIMIT = 1200  # characters of the person's words scored for sentiment


@dataclass(frozen=True)
class Friction:
    label: str
    at: datetime
    detail: str


@dataclass(frozen=True)
class TopicHit:
    topic: str
    evidence: tuple[str, ...]
    by_words: bool


@dataclass(frozen=True)
class Sentiment:
    frustration: float
    label: str
    markers: tuple[str, ...]


@dataclass(frozen=True)
class Signals:
    now: datetime
    events: tuple[MarketingEvent, ...]  # inside the lookback, at or before now, newest first
    texts: tuple[str, ...]  # the person's own words, newest first (inquiry first)
    sentiment: Sentiment
    friction: tuple[Friction, ...]  # newest first
    state: PersonState
    state_reason: str
    help_topic: str
    help_evidence: str
    rep_topics: tuple[TopicHit, ...] = field(default_factory=tuple)

    @property
    def frustration(self) -> float:
        return self.sentiment.frustration


def clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class SentimentCache:
    """A small thread-safe LRU of sentiment estimates."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._data: OrderedDict[tuple[str, tuple[str, ...]], Sentiment] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...]]) -> Sentiment | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: tuple[str, tuple[str, ...]], value: Sentiment) -> None:
        with self._lock:
            self._data[key] = value
            if len(self._data) > self.size:
                self._data.popitem(last=False)


def recent_events(
    request: MarketingRequest, policy: MarketingPolicy, now: datetime
) -> tuple[MarketingEvent, ...]:
    since = now - policy.lookback
    kept = [e for e in request.events if since <= e.at <= now]
    kept.sort(key=lambda e: e.at, reverse=True)
    return tuple(kept)


def person_texts(request: MarketingRequest, events: tuple[MarketingEvent, ...]) -> tuple[str, ...]:
    texts = [request.inquiry] if request.inquiry else []
    texts.extend(e.text for e in events if e.text and e.type in TEXT_EVENTS)
    return tuple(texts)


def signal_types(events: tuple[MarketingEvent, ...], policy: MarketingPolicy) -> tuple[str, ...]:
    """The signals.yaml event types these events stand for (order-free: sorted)."""
    out: list[str] = []
    for event in events:
        for item in policy.sentiment_events:
            if item.match.accepts(event):
                out.extend([item.signal] * min(event.count, MAX_SIGNAL_REPEATS))
                break
    return tuple(sorted(out))


def estimate_sentiment(
    reasoner: SentimentReasoner,
    texts: tuple[str, ...],
    signals: tuple[str, ...],
    *,
    cache: SentimentCache | None = None,
) -> Sentiment:
    """The person's frustration now, from their latest words and their behavioural events."""
    text = " ".join(texts[:3])[:TEXT_LIMIT]
    key = (text, signals)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    events: list[Event] = [{"type": kind, "at": ""} for kind in signals]
    state = reasoner.assess(
        text,
        turn=1,
        previous=None,
        prior_user_texts=(),
        events=events,
        last_bot_action=None,
        failures=0,
    )
    result = Sentiment(
        frustration=state["frustration"], label=state["label"], markers=tuple(state["markers"])
    )
    if cache is not None:
        cache.put(key, result)
    return result


def friction_of(events: tuple[MarketingEvent, ...], policy: MarketingPolicy) -> tuple[Friction, ...]:
    out: list[Friction] = []
    for event in events:
        for kind in policy.friction:
            if kind.match.accepts(event):
                detail = event.outcome or event.topic or (f"{event.count}×" if event.count > 1 else "")
                out.append(Friction(label=kind.label, at=event.at, detail=detail))
                break
    return tuple(out)


def _rule_holds(
    rule: StateRule,
    request: MarketingRequest,
    events: tuple[MarketingEvent, ...],
    sentiment: Sentiment,
    policy: MarketingPolicy,
    now: datetime,
) -> str | None:
    """Why ``rule`` holds, or None."""
    profile = request.profile
    if rule.stages is not None and profile.buying_stage not in rule.stages:
        return None
    if rule.engagement is not None and profile.engagement not in rule.engagement:
        return None
    if not rule.any and rule.frustration_at_least is None and not rule.markers:
        if rule.stages is not None:
            return f"buying stage {profile.buying_stage}"
        return f"engagement {profile.engagement}" if rule.engagement is not None else "always"
    if rule.frustration_at_least is not None and sentiment.frustration >= rule.frustration_at_least:
        return f"frustration {sentiment.frustration:.2f}"
    for marker in rule.markers:
        if marker in sentiment.markers:
            return f"said: {marker.replace('_', ' ')}"
    for match in rule.any:
        hits = match.matching(events, now=now, lookback=policy.lookback)
        if sum(e.count for e in hits) >= match.min_count:
            total = sum(e.count for e in hits)
            if hits[0].type == "page_view" and hits[0].page:
                return f"visited {hits[0].page}" + (f" ({total}×)" if total > 1 else "")
            return f"{hits[0].type.replace('_', ' ')} ({total}×)"
    return None


def person_state(
    request: MarketingRequest,
    events: tuple[MarketingEvent, ...],
    sentiment: Sentiment,
    policy: MarketingPolicy,
    now: datetime,
) -> tuple[PersonState, str]:
    for rule in policy.states:
        why = _rule_holds(rule, request, events, sentiment, policy, now)
        if why is not None:
            return rule.state, why
    return "steady", "no signal"


def help_topic(
    events: tuple[MarketingEvent, ...], texts: tuple[str, ...], policy: MarketingPolicy
) -> tuple[str, str]:
    """(topic, evidence): the topic whose evidence is most recent; the person's words count as newest."""
    for text in texts:
        for name, topic in policy.help_topics.items():
            if topic.text_re is not None and topic.text_re.search(text):
                return name, f'wrote "{clip(mask(text), 80)}"'
    for event in events:
        for name, topic in policy.help_topics.items():
            if event.type in topic.events:
                return name, event.type
            if (
                event.type == "page_view"
                and event.page
                and topic.page_re is not None
                and topic.page_re.search(event.page)
            ):
                return name, f"visited {event.page}"
    return "general", ""


def rep_topics(
    request: MarketingRequest,
    events: tuple[MarketingEvent, ...],
    texts: tuple[str, ...],
    policy: MarketingPolicy,
    now: datetime,
) -> tuple[TopicHit, ...]:
    """Every rep topic the person's words or (in the right buying stage) page visits signal; policy order."""
    hits: list[TopicHit] = []
    stage = request.profile.buying_stage
    for name, topic in policy.routing.topics.items():
        evidence: list[str] = []
        by_words = False
        if topic.text_re is not None:
            for text in texts:
                m = topic.text_re.search(text)
                if m:
                    evidence.append(f'asked: "{clip(mask(text))}"')
                    by_words = True
                    break
        if topic.pages is not None and (topic.page_stages is None or stage in topic.page_stages):
            pages = topic.pages.matching(events, now=now, lookback=policy.lookback)
            total = sum(e.count for e in pages)
            if pages and total >= topic.pages.min_count:
                names = sorted({e.page or "" for e in pages})
                evidence.append(f"visited {', '.join(names[:4])} ({total}×)")
        if evidence:
            hits.append(TopicHit(topic=name, evidence=tuple(evidence), by_words=by_words))
    return tuple(hits)


def fold_signals(
    request: MarketingRequest,
    policy: MarketingPolicy,
    reasoner: SentimentReasoner,
    *,
    now: datetime,
    cache: SentimentCache | None = None,
) -> Signals:
    events = recent_events(request, policy, now)
    texts = person_texts(request, events)
    sentiment = estimate_sentiment(reasoner, texts, signal_types(events, policy), cache=cache)
    state, why = person_state(request, events, sentiment, policy, now)
    topic, topic_evidence = help_topic(events, texts, policy)
    return Signals(
        now=now,
        events=events,
        texts=texts,
        sentiment=sentiment,
        friction=friction_of(events, policy),
        state=state,
        state_reason=why,
        help_topic=topic,
        help_evidence=topic_evidence,
        rep_topics=rep_topics(request, events, texts, policy, now),
    )
