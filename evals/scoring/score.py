"""The score of one scenario: its checks and the per-scenario facts the suite metrics add up.

A score is a :class:`SupportScore` or a :class:`MarketingScore`, told apart by ``product`` (a pydantic
discriminated union, like the scenario files themselves): support carries the escalation, handoff, experience
and cost facts of a conversation; marketing the expected and actual decision. Both carry the checks and any
policy breaches.

Each failed check has a failure type (see ``docs/evals.md``): ``wrong_intent``, ``misread_state``,
``bad_timing``, ``lost_context``, ``policy_breach``, ``wrong_reply``, or ``error`` when the scenario could not
run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

FailureType = Literal[
    "wrong_intent", "misread_state", "bad_timing", "lost_context", "policy_breach", "wrong_reply", "error"
]
FAILURE_TYPES: tuple[FailureType, ...] = get_args(FailureType)
Status = Literal["pass", "fail", "error", "skipped"]


class Check(BaseModel):
    """One expectation or automatic check, passed or failed, with what was expected and what happened."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    ok: bool
    category: FailureType
    turn: int | None = None
    expected: str = ""
    actual: str = ""


class HandoffScore(BaseModel):
    model_config = ConfigDict(defer_build=True)

    turn: int
    fields: dict[str, bool]  # present and, where checked, correct
    completeness: float
    problems: list[str]


class _ScoreBase(BaseModel):
    """What every score has, whatever the product."""

    model_config = ConfigDict(defer_build=True)

    id: str
    product: Literal["support", "marketing"]
    path: str
    title: str
    tags: list[str]
    catches: str | None
    source: str
    status: Status
    note: str | None = None
    checks: list[Check]
    breaches: list[dict[str, Any]] = []

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class SupportScore(_ScoreBase):
    """A support conversation: escalation (expected, actual, delay), the handoff packet, the experience
    (questions, repeats, restatements, sentiment recovery), containment and the model cost per bot turn."""

    product: Literal["support"] = "support"
    expected_escalation: bool | None = None
    expected_turn: int | None = None
    escalated: bool = False
    escalation_turn: int | None = None
    delay: int | None = None
    handoff: HandoffScore | None = None
    bot_turns: int = 0
    questions_asked: int = 0
    repeated_questions: list[dict[str, Any]] = []
    repeated_answers: list[dict[str, Any]] = []
    restatements: int = 0
    restatements_noticed: int = 0
    trajectory: list[float] = []
    worst: float | None = None
    final: float | None = None
    recovery: float | None = None
    recovered: bool | None = None
    contained: bool = False
    regret: bool = False
    actions: list[tuple[str, str]] = []  # (expected, actual) per turn with an action expectation
    model_calls: list[int] = []
    tokens: list[int] = []


class MarketingScore(_ScoreBase):
    """A marketing request: the decision it should have had (the actual one when that was acceptable)."""

    product: Literal["marketing"] = "marketing"
    expected_decision: str | None = None
    decision: str | None = None


ScenarioScore = Annotated[SupportScore | MarketingScore, Field(discriminator="product")]
SCORE: TypeAdapter[SupportScore | MarketingScore] = TypeAdapter(ScenarioScore)
