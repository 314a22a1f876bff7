"""Scoring scenario runs: ``score`` (the score types), ``turn`` (per-turn support checks), ``packet`` (the
handoff packet), ``support`` and ``marketing`` (one product each), ``common`` (what both share), ``scorer``
(dispatch by product)."""

from tactful.evals.scoring.score import (
    FAILURE_TYPES,
    SCORE,
    Check,
    FailureType,
    HandoffScore,
    MarketingScore,
    ScenarioScore,
    SupportScore,
)
from tactful.evals.scoring.scorer import Scorer

__all__ = [
    "FAILURE_TYPES",
    "SCORE",
    "Check",
    "FailureType",
    "HandoffScore",
    "MarketingScore",
    "ScenarioScore",
    "Scorer",
    "SupportScore",
]
