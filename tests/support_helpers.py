"""Helpers for driving the support graph in tests: one shared context, one runner per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.context import TurnContext
from tactful.agents.state import Event
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings


@lru_cache(maxsize=1)
def shared_context() -> TurnContext:
    """The default tenant's offline context; fitting the intent model once keeps the suite fast."""
    return build_context(Settings(engine="offline"))


def new_runner() -> SupportRunner:
    ctx = shared_context()
    return SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)


def event(kind: str, *, minutes_ago: float = 1.0) -> Event:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"type": kind, "at": at.isoformat()}
