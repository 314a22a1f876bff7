"""Scenario files: the schema of a scripted conversation (support) or a marketing request, and loading them.

One scenario per YAML file. A file that does not parse or validate becomes a :class:`ScenarioError` naming the
file and line; the caller reports it and carries on with the other files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from tactful.agents.state import SentimentLabel
from tactful.config import Strict, line_in, line_of, read_yaml, validate_yaml
from tactful.errors import ConfigError

ExpectedAction = Literal["respond", "clarify", "assist", "escalate", "none"]
MarketingDecisionName = Literal["send", "suppress", "route_to_rep"]
Scalar = str | int | float | bool

DEFAULT_START = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"`` → a timedelta."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"duration {text!r} must look like 30s, 5m, 2h or 1d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def matches(expected: str | Sequence[str], actual: str | None) -> bool:
    """Expectation match: a value or a list of acceptable values; ``prefix*`` matches by prefix."""
    if actual is None:
        return False
    options = [expected] if isinstance(expected, str) else list(expected)
    for option in options:
        if option.endswith("*") and actual.startswith(option[:-1]):
            return True
        if option == actual:
            return True
    return False


# --------------------------------------------------------------------------- support


class EventSpec(Strict):
    """A behavioural event arriving with a message (``at`` defaults to the turn's scenario time)."""

    type: str = Field(min_length=1)
    at: datetime | None = None
    detail: dict[str, Scalar] = {}


class SentimentExpect(Strict):
    label_in: list[SentimentLabel] | None = None
    label_not_in: list[SentimentLabel] | None = None
    frustration_at_most: float | None = Field(default=None, ge=0, le=1)
    frustration_at_least: float | None = Field(default=None, ge=0, le=1)
    hurried: bool | None = None


class HandoffExpect(Strict):
    """What the handoff packet must say. Each value: exact, a list of acceptable values, or a ``prefix*``."""

    queue: str | list[str] | None = None
    reason: str | list[str] | None = None
    intent: str | list[str] | None = None
    priority: str | list[str] | None = None


class TurnExpect(Strict):
    action: ExpectedAction | list[ExpectedAction] | None = None
    not_action: list[ExpectedAction] = []
    intent: str | list[str] | None = None
    handoff: HandoffExpect | None = None
    reply_contains: list[str] = []
    reply_contains_any: list[str] = []
    reply_not_contains: list[str] = []
    forbidden: list[str] = []
    reply_max_words: int | None = Field(default=None, ge=1)
    no_repeated_question: bool = True
    silent: bool | None = None
    guard: str | list[str] | None = None
    sentiment: SentimentExpect | None = None


class Turn(Strict):
    """A user message and/or behavioural events. Events without a message ride with the next message."""

    user: str | None = None
    events: list[EventSpec] = []
    context: dict[str, Scalar] | None = None
    after: str | None = None
    restates: bool = False
    expect: TurnExpect | None = None

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _shape(self) -> Turn:
        if self.user is None and not self.events:
            raise ValueError("a turn needs `user` text, `events`, or both")
        if self.user is None and (self.expect is not None or self.restates):
            raise ValueError(
                "an events-only turn cannot carry `expect` or `restates` (it is not a turn of its own)"
            )
        if self.user is not None and not self.user.strip():
            raise ValueError("`user` must not be blank")
        return self


class ConversationExpect(Strict):
    escalated_by_turn: int | None = Field(default=None, ge=1)
    escalated_not_before: int | None = Field(default=None, ge=1)
    never_escalated: bool = False
    contained: bool = False
    sentiment_recovered: bool = False
    handoff: HandoffExpect | None = None
    forbidden: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> ConversationExpect:
        if (self.never_escalated or self.contained) and self.escalated_by_turn is not None:
            raise ValueError("`escalated_by_turn` contradicts `never_escalated` / `contained`")
        if (self.never_escalated or self.contained) and self.handoff is not None:
            raise ValueError("a `handoff` expectation contradicts `never_escalated` / `contained`")
        if (
            self.escalated_by_turn is not None
            and self.escalated_not_before is not None
            and self.escalated_not_before > self.escalated_by_turn
        ):
            raise ValueError("`escalated_not_before` is after `escalated_by_turn`")
        return self


class SimulatedUser(Strict):
    """For ``--simulate``: a model plays this person, pursuing the goal, for up to ``max_turns`` messages."""

    persona: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    max_turns: int = Field(default=6, ge=1, le=30)
    opening: str | None = None


class SupportScenario(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    product: Literal["support"]
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = []
    catches: str | None = None
    tenant: str = "default"
    context: dict[str, Scalar] = {}
    start: datetime = DEFAULT_START
    turns: list[Turn] = Field(min_length=1)
    expect: ConversationExpect = ConversationExpect()
    simulate: SimulatedUser | None = None

    @model_validator(mode="after")
    def _turns(self) -> SupportScenario:
        if self.turns[-1].user is None:
            raise ValueError("the last turn has events but no `user` message to carry them")
        n = self.n_user_turns
        for name in ("escalated_by_turn", "escalated_not_before"):
            value = getattr(self.expect, name)
            if value is not None and value > n:
                raise ValueError(f"expect.{name} is {value} but the scenario has {n} user turns")
        return self

    @property
    def n_user_turns(self) -> int:
        return sum(1 for t in self.turns if t.user is not None)


# --------------------------------------------------------------------------- marketing


class MarketingExpect(Strict):
    decision: MarketingDecisionName | list[MarketingDecisionName]
    reason: str | list[str] | None = None
    message_contains: list[str] = []
    message_contains_any: list[str] = []
    message_not_contains: list[str] = []
    forbidden: list[str] = []
    hold: bool = False
    factors_include: list[str] = []
    concierge_alert: bool | None = None


class MarketingScenario(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    product: Literal["marketing"]
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = []
    catches: str | None = None
    tenant: str = "default"
    request: dict[str, Any]
    expect: MarketingExpect


Scenario = Annotated[SupportScenario | MarketingScenario, Field(discriminator="product")]
_MODELS: dict[str, type[SupportScenario] | type[MarketingScenario]] = {
    "support": SupportScenario,
    "marketing": MarketingScenario,
}


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class ScenarioError:
    """A scenario file that could not be used, with where the problem is."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class LoadedScenario:
    path: str
    scenario: SupportScenario | MarketingScenario


def _error(path: Path, exc: ConfigError) -> ScenarioError:
    return ScenarioError(path=str(path), line=exc.line, message=exc.message)


def load_scenario(path: Path) -> SupportScenario | MarketingScenario:
    """Parse and validate one scenario file; raises :class:`ConfigError` with the file and line."""
    text, data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("a scenario file holds one mapping (id, product, ...)", path=path, line=1)
    product = data.get("product")
    model = _MODELS.get(product) if isinstance(product, str) else None
    if model is None:
        line = line_of(text, ("product",)) if "product" in data else 1
        raise ConfigError(f"product: must be one of {sorted(_MODELS)}, got {product!r}", path=path, line=line)
    return validate_yaml(path, text, data, model)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Scenario files under the given files and directories (``*.yaml`` / ``*.yml``), sorted, unique."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
        else:
            found.add(path)
    return sorted(found)


def load_all(paths: Iterable[Path]) -> tuple[list[LoadedScenario], list[ScenarioError]]:
    """Every valid scenario under ``paths`` (sorted by id) and an error per file that could not be used."""
    loaded: list[LoadedScenario] = []
    errors: list[ScenarioError] = []
    seen: dict[str, str] = {}
    for path in discover(paths):
        if not path.exists():
            errors.append(ScenarioError(path=str(path), line=None, message="no such file or directory"))
            continue
        try:
            scenario = load_scenario(path)
        except ConfigError as exc:
            errors.append(_error(path, exc))
            continue
        if scenario.id in seen:
            errors.append(
                ScenarioError(
                    path=str(path),
                    line=_id_line(path),
                    message=f"duplicate id {scenario.id!r} (also in {seen[scenario.id]})",
                )
            )
            continue
        seen[scenario.id] = str(path)
        loaded.append(LoadedScenario(path=str(path), scenario=scenario))
    loaded.sort(key=lambda item: item.scenario.id)
    return loaded, errors


def _id_line(path: Path) -> int | None:
    return line_in(path, ("id",))


# --------------------------------------------------------------------------- names against the policy


@dataclass(frozen=True)
class KnownNames:
    """Intent labels and queue names of a tenant's policy, to catch a typo in an expectation at load time."""

    intents: frozenset[str]
    queues: frozenset[str]


def _unknown(value: str | list[str] | None, known: frozenset[str]) -> str | None:
    for option in [value] if isinstance(value, str) else value or []:
        if not option.endswith("*") and option not in known:
            return option
    return None


def check_names(item: LoadedScenario, known: KnownNames) -> ScenarioError | None:
    """The first expected intent or queue that the policy does not know, as an error with its line."""
    scenario = item.scenario
    if not isinstance(scenario, SupportScenario):
        return None
    spots: list[tuple[tuple[int | str, ...], HandoffExpect | None, str | list[str] | None]] = [
        (("expect", "handoff"), scenario.expect.handoff, None)
    ]
    for i, turn in enumerate(scenario.turns):
        if turn.expect is not None:
            spots.append((("turns", i, "expect"), turn.expect.handoff, turn.expect.intent))
    for loc, handoff, intent in spots:
        checks: list[tuple[tuple[int | str, ...], str | list[str] | None, frozenset[str]]] = [
            ((*loc, "intent"), intent, known.intents)
        ]
        if handoff is not None:
            base = loc if loc[-1] == "handoff" else (*loc, "handoff")
            checks += [
                ((*base, "intent"), handoff.intent, known.intents),
                ((*base, "queue"), handoff.queue, known.queues),
            ]
        for where, value, names in checks:
            bad = _unknown(value, names)
            if bad is not None:
                path = Path(item.path)
                line = line_in(path, where)
                what = "intent" if where[-1] == "intent" else "queue"
                return ScenarioError(
                    path=item.path, line=line, message=f"unknown {what} {bad!r} in the policy"
                )
    return None
