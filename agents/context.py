"""Run-scoped context of a support turn: tenant, engine, policy bundle, guards and texts. Kept apart from state.

Built (and cached per tenant) by :mod:`tactful.graphs.context`; the specialists only read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tactful.agents.engine.seam import Engine, Fallback
from tactful.agents.guards.rules import Guards
from tactful.agents.notes import AgentNotes
from tactful.agents.policy.files import PolicyBundle
from tactful.agents.responder.templates import ReplyTemplates
from tactful.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TurnContext:
    tenant: str
    engine: Engine
    offline: Fallback  # what answers when ``engine`` cannot; the handoff's fixed texts come from it
    bundle: PolicyBundle
    guards: Guards
    templates: ReplyTemplates
    notes: AgentNotes
    settings: Settings
    now: Callable[[], datetime] = field(default=utcnow)
