"""Run-scoped context of a support turn: tenant, engine, policy bundle, guards and texts. Kept apart from state.

Two shapes: :class:`RunContext` is what a LangGraph run's ``context`` carries (JSON: a tenant name and,
optionally, an engine name), and :class:`TurnContext` is what the specialists read (the live, cached resources:
engine, policy bundle, guards, templates). The support graph resolves the first into the second before every
node (:mod:`tactful.graphs.context`); the service and the CLI pass a :class:`TurnContext` directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tactful.agents.engine.seam import Engine, Fallback
from tactful.agents.guards.rules import Guards
from tactful.agents.notes import AgentNotes
from tactful.agents.policy.files import PolicyBundle
from tactful.agents.responder.templates import ReplyTemplates
from tactful.errors import InputError
from tactful.settings import EngineName, Settings

TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENGINE_NAMES: tuple[EngineName, ...] = ("offline", "openai", "scripted")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunContext:
    """The JSON context of a run (``{"tenant": "acme", "engine": "offline"}``). The tenant picks its policy set
    (``policies/tenants/<tenant>/`` over the defaults) and intent model; ``engine`` overrides the configured
    engine for this run. Both resolve to resources built once and cached."""

    tenant: str = "default"
    """The tenant whose policies, taxonomy and templates answer (letters, digits, ``_``, ``-``; up to 64)."""
    engine: EngineName | None = None
    """``offline``, ``openai`` or ``scripted``; default: the ``TACTFUL_ENGINE`` setting."""

    def __post_init__(self) -> None:
        if not isinstance(self.tenant, str) or not TENANT_NAME.match(self.tenant):
            raise InputError(f"context.tenant {self.tenant!r}: letters, digits, '_' and '-' only (1-64)")
        if self.engine is not None and self.engine not in ENGINE_NAMES:
            raise InputError(f"context.engine {self.engine!r}: one of {', '.join(ENGINE_NAMES)}")


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
