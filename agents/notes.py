"""Text for the person who takes over (``prompts/agent_notes.yaml``): the extractive handoff summary's sentences
and the lines of what the bot did. Placeholders are checked at start-up, so a typo fails with the file and line."""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from pydantic import ValidationInfo, field_validator

from tactful.agents.state import DecisionState, Event
from tactful.config import Strict, load_yaml_model

_FORMATTER = string.Formatter()


def check_placeholders(text: str, allowed: frozenset[str]) -> str:
    """``text`` when every ``{placeholder}`` in it is one of ``allowed``; else a ValueError saying which is not."""
    try:
        used = {field for _, field, _, _ in _FORMATTER.parse(text) if field is not None}
    except ValueError as exc:
        raise ValueError(f"bad placeholder syntax: {exc}") from exc
    unknown = used - allowed
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; known: {sorted(allowed)}")
    return text


class Texts(Strict):
    """A group of text templates from a data file; ``PLACEHOLDERS`` names the placeholders each may use."""

    PLACEHOLDERS: ClassVar[dict[str, frozenset[str]]] = {}

    @field_validator("*")
    @classmethod
    def _placeholders(cls, value: object, info: ValidationInfo) -> object:
        allowed = cls.PLACEHOLDERS.get(info.field_name or "")
        if allowed is None or not isinstance(value, str):
            return value
        return check_placeholders(value, allowed)


class SummaryLines(Texts):
    """One sentence per fact of the extractive summary; a fact that is not known is left out."""

    intent: str
    first_said: str
    latest: str
    mood: str
    tried: str
    reason: str

    PLACEHOLDERS: ClassVar[dict[str, frozenset[str]]] = {
        "intent": frozenset({"topic", "confidence"}),
        "first_said": frozenset({"text"}),
        "latest": frozenset({"text"}),
        "mood": frozenset({"label", "frustration", "trend"}),
        "tried": frozenset({"steps"}),
        "reason": frozenset({"reason"}),
    }


class TriedLines(Texts):
    """What the bot did on a turn, and the events and first-message handoffs the packet lists beside it."""

    answered: str
    declined_rule_change: str
    clarified: str
    offered: str
    gave_steps: str
    event: str
    nothing_yet: str
    injection_attempts: str = "Caught attempts to change the bot's rules: {attempts}"

    PLACEHOLDERS: ClassVar[dict[str, frozenset[str]]] = {
        "answered": frozenset({"topic", "turn"}),
        "declined_rule_change": frozenset({"turn"}),
        "clarified": frozenset({"options", "turn"}),
        "offered": frozenset({"topic", "steps", "turn"}),
        "gave_steps": frozenset({"topic", "turn"}),
        "event": frozenset({"type", "at"}),
        "nothing_yet": frozenset(),
        "injection_attempts": frozenset({"attempts"}),
    }


class AgentNotes(Strict):
    version: int = 1
    summary: SummaryLines
    tried: TriedLines

    def action(self, decision: DecisionState | None, label: str | None, turn: int) -> str:
        """The line for what the bot did on ``turn`` (the packet's ``tried``)."""
        t = self.tried
        topic = (label or "the request").replace("_", " ")
        if decision is None:
            return t.answered.format(topic=topic, turn=turn)
        if decision["rule"].startswith("guard:"):
            return t.declined_rule_change.format(turn=turn)
        if decision["action"] == "clarify":
            return t.clarified.format(options=" or ".join(decision["options"][:2]), turn=turn)
        if decision["action"] == "assist":
            return t.offered.format(topic=topic, steps="; ".join(decision["options"][:3]), turn=turn)
        return t.gave_steps.format(topic=topic, turn=turn)

    def events(self, events: Sequence[Event]) -> list[str]:
        return [self.tried.event.format(type=e["type"], at=e["at"]) for e in events]


@lru_cache(maxsize=8)
def load_agent_notes(prompts_dir: Path) -> AgentNotes:
    return load_yaml_model(prompts_dir / "agent_notes.yaml", AgentNotes)
