"""Schemas for the taxonomy, support policy and guard files, and loading them (per tenant) with file/line errors."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tactful.config import Regexes, Strict, line_in, load_yaml_model
from tactful.errors import ConfigError

Risk = Literal["low", "medium", "high"]
TrendName = Literal["rising", "falling", "steady"]
Action = Literal["respond", "clarify", "assist", "escalate"]


def _compile(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)  # as its users compile it: they find it in re's cache
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


# --------------------------------------------------------------------------- taxonomy


class IntentSpec(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    risk: Risk
    queue: str
    clarify: str
    escalate_on: list[str] = []
    next_steps: list[str] = []
    examples: list[str] = Field(min_length=3)
    implied_by_events: list[str] = []
    """Behavioural event types that point to this intent when the text alone is unclear."""


class Evidence(Strict):
    """A placement needs evidence (``agents/intent/evidence.py``): an offline guess whose message shares no content
    word with the intent's own texts is capped at ``cap``, below the bar at which an opening message is out of
    scope and a later one stays on the issue under way."""

    cap: float = Field(default=0.0, ge=0.0, lt=1.0)
    """The confidence such a guess keeps at most (0 turns the check off)."""
    ignore_words: frozenset[str] = frozenset()
    """Function words and fillers ("what", "not", "yes", "perfect") that are evidence for no intent."""


class OutOfScope(Strict):
    queue: str = "general"
    examples: list[str] = []
    background: bool = True
    """Also learn from the shipped broad negatives (``policies/background.yaml``)."""
    unsure_below: float = Field(default=0.0, ge=0.0, lt=1.0)
    """A short message that starts a conversation (no issue under way) with no intent at least this likely is
    out of scope: the bot says what it can help with instead of guessing (0 turns this off)."""
    unsure_max_words: int = Field(default=12, ge=1)
    evidence: Evidence = Evidence()


DialogueActName = Literal["new", "followup", "closing", "acknowledgement"]


class DialogueActs(Strict):
    """Short replies that are about the conversation rather than a new request: thanks, "that worked", "ok",
    a bare reference number. They keep the issue under way instead of being classified from scratch."""

    max_words: int = Field(default=12, ge=1)
    carry_below: float = Field(default=0.4, ge=0.0, le=1.0)
    """An issue is carried into later turns only if it was placed at least this sure (or chosen by the person, or
    pointed to by an event); and a short message below this for every intent, mid-issue, stays on that issue."""
    new_issue_at: float = Field(default=0.85, ge=0.0, le=1.0)
    """A follow-up ("that didn't work") this sure of another intent raises a new issue instead of continuing."""
    closing: list[str] = []
    """The person says the answer worked or thanks the bot: close out, don't answer again."""
    acknowledgement: list[str] = []
    """A bare "ok" / "got it": confirm and stay available."""
    not_closing: list[str] = []
    """Words that undo a closing ("thanks, but it still doesn't work")."""
    reference: list[str] = []
    """A reference the person was asked for or offers (order number, invoice id): a follow-up on the same issue."""
    followup: list[str] = []
    """A short report that the last answer did not work ("still not working", "didn't help"): same issue."""

    _check = field_validator("closing", "acknowledgement", "not_closing", "reference", "followup")(_compile)

    def classify(self, text: str, *, has_previous: bool) -> DialogueActName:
        if not has_previous:
            return "new"
        lowered = text.lower().strip()
        words = lowered.split()
        if len(words) > self.max_words:
            return "new"
        if "?" not in lowered and not any(re.search(p, lowered) for p in self.not_closing):
            if _raises_more(lowered, self.closing):
                return "new"  # "thanks, done. the export button does nothing": the thanks closes nothing
            if any(re.search(p, lowered) for p in self.closing):
                return "closing"
            if any(re.search(p, lowered) for p in self.acknowledgement):
                return "acknowledgement"
        if len(words) <= 4 and any(re.search(p, lowered) for p in self.reference):
            return "followup"
        if any(re.search(p, lowered) for p in self.followup):
            return "followup"
        return "new"


def _raises_more(lowered: str, closing: list[str]) -> bool:
    """A closing sentence followed by a sentence of its own (at least 4 words) that closes nothing."""
    sentences = [x.strip() for x in re.split(r"(?<=[.!;])\s+", lowered) if x.strip()]
    if len(sentences) < 2 or not any(re.search(p, sentences[0]) for p in closing):
        return False
    rest = sentences[1:]
    return any(len(x.split()) >= 4 and not any(re.search(p, x) for p in closing) for x in rest)


class Taxonomy(Strict):
    version: int = 1
    out_of_scope: OutOfScope = OutOfScope()
    intents: list[IntentSpec] = Field(min_length=2)
    dialogue_acts: DialogueActs = DialogueActs()

    @model_validator(mode="after")
    def _unique(self) -> Taxonomy:
        seen: set[str] = set()
        for spec in self.intents:
            if spec.name in seen:
                raise ValueError(f"intent {spec.name!r} is defined twice")
            seen.add(spec.name)
        return self

    @cached_property
    def by_name(self) -> dict[str, IntentSpec]:
        return {spec.name: spec for spec in self.intents}


# --------------------------------------------------------------------------- support policy


class Trigger(Strict):
    sensitive: bool = False
    always: bool = False
    """Checked by the policy for every intent, not only those listing it in ``escalate_on``."""
    queue: str | None = None
    patterns: list[str] = []
    events: dict[str, int] = {}
    frustration_at_least: float | None = None
    failures_at_least: int | None = None

    _check = field_validator("patterns")(_compile)


class Condition(Strict):
    """Every given field must hold for the rule to match."""

    trigger_fired: bool | None = None
    intents: list[str] | None = None
    risk: list[Risk] | None = None
    out_of_scope: bool | None = None
    confidence_below: float | None = None
    confidence_at_least: float | None = None
    margin_below: float | None = None
    frustration_at_least: float | None = None
    urgency_at_least: float | None = None
    score_below: float | None = None
    trend: list[TrendName] | None = None
    value_at_least: float | None = None
    tiers: list[str] | None = None
    prior_escalations_at_least: int | None = None
    failures_at_least: int | None = None
    clarifications_below: int | None = None
    sentiment_labels: list[str] | None = None
    acts: list[DialogueActName] | None = None
    answered: bool | None = None
    """The bot already answered this same intent on its previous turn."""


class Rule(Strict):
    id: str
    when: Condition
    action: Action
    reason: str


class DefaultRule(Strict):
    action: Action = "assist"
    reason: str = "default"


class Thresholds(Strict):
    max_clarifications: int = 1
    turn_budget: int = 24
    repeated_failures: int = 2
    failure_min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    """A "that did not help" turn counts as a failed attempt only after an answer to an issue placed at least
    this surely (or chosen by the person, or pointed to by an event): after a guess the bot tried no fix."""
    restatements: int = 2
    injection_attempts: int = 2
    high_value: float = 50000
    trend_value_frustration: float = 0.35


class HandoffPriority(Strict):
    """How urgent a handoff is. ``urgent``: a handoff for one of ``urgent_topics``, or a high-value account at
    ``frustration`` or more. ``high``: ``frustration`` or ``urgency`` reached, a high-value account, or an intent
    whose risk is in ``high_risks``. ``low``: a reason in ``low_reasons``. Else ``normal``."""

    urgent_topics: list[str] = ["safety", "fraud"]
    frustration: float = Field(default=0.6, ge=0.0, le=1.0)
    urgency: float = Field(default=0.6, ge=0.0, le=1.0)
    high_risks: list[str] = ["high"]
    low_reasons: list[str] = ["out_of_scope"]


class HandoffConfig(Strict):
    next_steps: dict[str, str] = {}
    queue_wait_minutes: dict[str, int] = {}
    priority: HandoffPriority = HandoffPriority()


class SupportPolicy(Strict):
    version: int = 1
    thresholds: Thresholds = Thresholds()
    triggers: dict[str, Trigger] = {}
    rules: list[Rule] = Field(min_length=1)
    default: DefaultRule = DefaultRule()
    handoff: HandoffConfig = HandoffConfig()


# --------------------------------------------------------------------------- guards


class GuardPatterns(Strict):
    human_request: list[str]
    bot_identity: list[str] = []
    """A question whether the bot is a person: answered honestly (with the offer of one), not a request for one."""
    injection: list[str]
    unauthorized_promise: list[str]
    legal_statement: list[str] = []
    secret: list[str] = []

    _check = field_validator("*")(_compile)


class GuardsFile(Strict):
    version: int = 1
    patterns: GuardPatterns
    system_text_overlap: float = 0.5
    """Share of a system prompt's 8-word shingles found in a draft that counts as leakage."""


class GroundingSpecifics(Strict):
    url: Regexes = []
    contact: Regexes = []


class GroundingFile(Strict):
    """What a model-written reply may say (policies/grounding.yaml; used by agents/guards/grounding.py)."""

    version: int = 1
    min_support: float = Field(default=0.75, ge=0.0, le=1.0)
    min_content_words: int = Field(default=2, ge=1)
    min_coverage: float = Field(default=0.6, ge=0.0, le=1.0)
    skeleton_overlap: float = Field(default=0.6, ge=0.0, le=1.0)
    repeat_overlap: float = Field(default=0.8, ge=0.0, le=1.0)
    phatic: list[str] = []
    specifics: GroundingSpecifics = GroundingSpecifics()
    promise: Regexes = []
    framing: Regexes = []
    internal_label: Regexes = []


# --------------------------------------------------------------------------- the bundle


class PolicyBundle:
    """Taxonomy, support policy and guard patterns for one tenant, validated together."""

    def __init__(self, directory: Path, *, fallback: Path | None = None) -> None:
        self.directory = directory

        def pick(name: str) -> Path:
            own = directory / name
            if own.exists() or fallback is None:
                return own
            return fallback / name

        self.taxonomy_path = pick("taxonomy.yaml")
        self.policy_path = pick("support.yaml")
        self.guards_path = pick("guards.yaml")
        self.grounding_path = pick("grounding.yaml")
        self.taxonomy = load_yaml_model(self.taxonomy_path, Taxonomy)
        self.policy = load_yaml_model(self.policy_path, SupportPolicy)
        self.guards = load_yaml_model(self.guards_path, GuardsFile)
        self.grounding = load_yaml_model(self.grounding_path, GroundingFile)
        self._cross_check()

    def _cross_check(self) -> None:
        triggers = self.policy.triggers
        for i, spec in enumerate(self.taxonomy.intents):
            for j, name in enumerate(spec.escalate_on):
                if name not in triggers:
                    raise ConfigError(
                        f"intents.{i}.escalate_on: unknown trigger {name!r} (not in {self.policy_path.name})",
                        path=self.taxonomy_path,
                        line=line_in(self.taxonomy_path, ["intents", i, "escalate_on", j]),
                    )
        known = set(self.taxonomy.by_name)
        for i, rule in enumerate(self.policy.rules):
            for name in rule.when.intents or []:
                if name not in known:
                    raise ConfigError(
                        f"rules.{i}.when.intents: unknown intent {name!r} (not in {self.taxonomy_path.name})",
                        path=self.policy_path,
                        line=line_in(self.policy_path, ["rules", i, "when", "intents"]),
                    )

    @cached_property
    def compiled_triggers(self) -> dict[str, list[re.Pattern[str]]]:
        return {
            name: [re.compile(p, re.IGNORECASE) for p in trig.patterns]
            for name, trig in self.policy.triggers.items()
        }


def load_bundle(policy_dir: Path, tenant: str | None = None) -> PolicyBundle:
    """The default bundle, or a tenant's, whose files override the defaults one by one."""
    if tenant and tenant != "default":
        tenant_dir = policy_dir / "tenants" / tenant
        if tenant_dir.is_dir():
            return PolicyBundle(tenant_dir, fallback=policy_dir)
    return PolicyBundle(policy_dir)
