"""The API shapes of outcomes: a person's label on a handoff, a customer's rating, and the metrics summary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tactful.service.models import ApiModel, Note, ShortStr

OutcomeLabel = Literal["needed", "automatable", "wrong_queue", "packet_missing"]
"""What the person who took a handoff says of it: a person was needed; the bot could have handled it; it was
needed but went to the wrong queue; it was needed but the packet lacked something."""
OUTCOME_LABELS: tuple[OutcomeLabel, ...] = ("needed", "automatable", "wrong_queue", "packet_missing")
NEEDED_LABELS = frozenset({"needed", "wrong_queue", "packet_missing"})
"""Labels that say the escalation itself was right (precision counts them as true positives)."""


class FeedbackIn(ApiModel):
    label: OutcomeLabel
    note: Note | None = None
    agent: ShortStr | None = None


class FeedbackOut(BaseModel):
    handoff_id: str
    conversation_id: str
    turn: int
    label: OutcomeLabel
    note: str | None
    agent: str | None
    policy_version: str
    at: str


Word = Field(
    default=None, min_length=1, max_length=40, pattern=r"^[^\s\u0000]{1,40}$", description="one word, no spaces"
)


class RatingIn(ApiModel):
    score: int = Field(ge=1, le=5, description="1 (bad) to 5 (great)")
    word: str | None = Word


class RatingOut(BaseModel):
    conversation_id: str
    turn: int
    score: int
    word: str | None
    policy_version: str
    at: str


class Figures(BaseModel):
    """One slice of the metrics (a tenant, an intent, a queue or a day). Ratios are None without a denominator."""

    conversations: int = 0
    contained: int = 0
    containment_without_regret: float | None = None
    regret_contacts: int = 0
    escalations: int = 0
    escalation_rate: float | None = None
    labelled_escalations: int = 0
    escalation_precision: float | None = None
    handoff_completeness: float | None = None
    first_reply_s_median: float | None = None
    resolution_s_median: float | None = None
    negative_conversations: int = 0
    negative_recovery: float | None = None
    """Mean of (worst frustration - final frustration) / worst over conversations that turned negative."""
    recovered_share: float | None = None
    restatements_per_conversation: float | None = None
    human_requests: int = 0
    human_request_rate: float | None = None
    rating_mean: float | None = None
    ratings: int = 0
    post_handoff_rating_mean: float | None = None
    failures: dict[str, int] = {}


class ShadowFigures(BaseModel):
    policy_version: str | None = None
    turns: int = 0
    diverging_turns: int = 0
    diverging_conversations: int = 0
    divergence: dict[str, int] = {}
    """``live->candidate`` action pairs that differ, counted by turn."""
    diverging_outcomes: dict[str, int] = {}
    """How the diverging conversations ended: a people's label, ``contained``, ``regret`` or ``open``."""


class MetricsSummary(BaseModel):
    tenant: str
    since: str
    until: str
    window_days: float
    totals: Figures
    by_intent: dict[str, Figures]
    by_queue: dict[str, Figures]
    by_day: dict[str, Figures]
    labels: dict[str, int]
    shadow: ShadowFigures
    truncated: bool = False
