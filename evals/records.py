"""What running a scenario produced: per-turn results of the support graph, or a marketing decision."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tactful.agents.state import Event
from tactful.graphs.runner import TurnResult


class TurnRecord(BaseModel):
    """One user message, the events that came with it, and the graph's answer."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    turn: int
    user: str
    events: list[Event]
    at: str
    mode_before: Literal["bot", "human"]
    restates: bool = False
    result: TurnResult


class MarketingRecord(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    decision: str
    reason: str
    factors: list[dict[str, Any]]
    message: str | None
    concierge_alert: bool | None
    raw: dict[str, Any]


class ScenarioRun(BaseModel):
    """The outcome of one scenario; ``error`` when it could not run, ``skipped`` when it did not apply."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    id: str
    product: Literal["support", "marketing"]
    path: str
    source: Literal["scripted", "simulated"] = "scripted"
    turns: list[TurnRecord] = []
    marketing: MarketingRecord | None = None
    error: str | None = None
    skipped: str | None = None
