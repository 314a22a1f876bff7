"""The dialogue channel: what the conversation itself says about how the bot is doing.

Angry words are the exception; most dissatisfied customers say so by correcting what the bot understood, giving
the same value again, rejecting an answer in a few words, praising a failure, or by the bot asking them the same
question twice. :class:`DialogueReader` reads those classes from this message, the customer's earlier messages
and the bot's own earlier turns. It reads nothing before the bot has spoken. Cues and weights are the ``dialogue``
section of ``policies/signals.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property

from pydantic import Field

from tactful.config import Regexes, Strict

CORRECTION = "correction"
REJECTED_ANSWER = "rejected_answer"
SARCASM = "sarcasm"
REPEATED_VALUE = "repeated_value"
QUESTION_REPEATED = "question_repeated"
WANTS_ALTERNATIVE = "wants_alternative"
DIALOGUE_CODES: tuple[str, ...] = (
    CORRECTION, REJECTED_ANSWER, SARCASM, REPEATED_VALUE, QUESTION_REPEATED, WANTS_ALTERNATIVE,
)


def _compiled(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in patterns]


def _any(patterns: Sequence[re.Pattern[str]], text: str) -> bool:
    return any(p.search(text) for p in patterns)


class CorrectionCues(Strict):
    """The customer corrects what the bot understood: in so many words ("I said", "that's wrong", "try again"),
    or by a negation at the start followed by the right value ("no, the 10th", "nope, two people")."""

    weight: float = Field(default=0.35, ge=0, le=1)
    patterns: Regexes = []
    soft_weight: float = Field(default=0.25, ge=0, le=1)
    lead: Regexes = []  # a negation that opens the message
    replacement: Regexes = []  # ...followed by what the bot should have understood

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compiled(self.patterns)

    @cached_property
    def compiled_lead(self) -> list[re.Pattern[str]]:
        return _compiled(self.lead)

    @cached_property
    def compiled_replacement(self) -> list[re.Pattern[str]]:
        return _compiled(self.replacement)


class RejectionCues(Strict):
    """A short negative reaction to what the bot offered or answered ("ugh, something else", "look again")."""

    weight: float = Field(default=0.3, ge=0, le=1)
    max_words: int = Field(default=10, ge=1)
    patterns: Regexes = []

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compiled(self.patterns)


class AlternativeCues(Strict):
    """The customer turns down what the bot offered and asks for another ("anything later?", "too early for
    me"): mild dissatisfaction with the answer, not a failure of the bot."""

    weight: float = Field(default=0.25, ge=0, le=1)
    patterns: Regexes = []

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compiled(self.patterns)


class SarcasmCues(Strict):
    """Praise aimed at a failure ("great job" next to "only automated answers"); stock phrases count alone."""

    weight: float = Field(default=0.4, ge=0, le=1)
    praise: Regexes = []
    failure_context: Regexes = []
    always: Regexes = []
    polite: Regexes = []
    """Praise in a request's courtesy form ("it would be very helpful if…"): politeness, not sarcasm."""

    @cached_property
    def compiled_polite(self) -> list[re.Pattern[str]]:
        return _compiled(self.polite)

    @cached_property
    def compiled_praise(self) -> list[re.Pattern[str]]:
        return _compiled(self.praise)

    @cached_property
    def compiled_context(self) -> list[re.Pattern[str]]:
        return _compiled(self.failure_context)

    @cached_property
    def compiled_always(self) -> list[re.Pattern[str]]:
        return _compiled(self.always)


class RepeatedValue(Strict):
    """The customer gives again a value (a time, a date, an order number) they already gave, or twice in one
    message: the bot did not take it in."""

    weight: float = Field(default=0.2, ge=0, le=1)
    pattern: str = r"\b\d{1,2}:\d{2}\b|\b\d{3,}\b|\b\d{1,2}(st|nd|rd|th)\b"
    lookback: int = Field(default=4, ge=1)


class RepeatedQuestion(Strict):
    """The bot asks a question it already asked (a clarifying question twice)."""

    weight: float = Field(default=0.25, ge=0, le=1)
    threshold: float = Field(default=0.7, gt=0, le=1)
    lookback: int = Field(default=3, ge=1)
    ignore: Regexes = []  # questions a bot rightly asks every time ("anything else I can help with?")

    @cached_property
    def compiled_ignore(self) -> list[re.Pattern[str]]:
        return _compiled(self.ignore)


class DialogueConfig(Strict):
    success: Regexes = []  # the customer confirms the bot got it right: a run of failed turns ends
    correction: CorrectionCues = CorrectionCues()
    rejection: RejectionCues = RejectionCues()
    alternatives: AlternativeCues = AlternativeCues()
    sarcasm: SarcasmCues = SarcasmCues()
    repeated_value: RepeatedValue = RepeatedValue()
    repeated_question: RepeatedQuestion = RepeatedQuestion()

    @cached_property
    def compiled_success(self) -> list[re.Pattern[str]]:
        return _compiled(self.success)

    @cached_property
    def value_pattern(self) -> re.Pattern[str]:
        return re.compile(self.repeated_value.pattern, re.IGNORECASE)


Similarity = Callable[[str, Sequence[str]], float]


class DialogueReader:
    """Reads the dialogue classes of one customer turn; ``similarity`` compares texts (0..1)."""

    def __init__(self, config: DialogueConfig, *, similarity: Similarity) -> None:
        self.config = config
        self.similarity = similarity

    def read(
        self,
        text: str,
        lowered: str,
        *,
        prior_user_texts: Sequence[str],
        prior_bot_texts: Sequence[str],
        bot_spoke: bool,
    ) -> dict[str, float]:
        """Marker code -> weight for this turn. Before the bot has said anything only sarcasm counts (it can be
        about a failure before this conversation)."""
        cfg = self.config
        found: dict[str, float] = {}
        if self.sarcastic(lowered):
            found[SARCASM] = cfg.sarcasm.weight
        if not bot_spoke:
            return found
        if _any(cfg.correction.compiled, lowered):
            found[CORRECTION] = cfg.correction.weight
        elif _any(cfg.correction.compiled_lead, lowered) and _any(cfg.correction.compiled_replacement, lowered):
            found[CORRECTION] = cfg.correction.soft_weight
        words = len(text.split())
        if words <= cfg.rejection.max_words and _any(cfg.rejection.compiled, lowered):
            found[REJECTED_ANSWER] = cfg.rejection.weight
        if REJECTED_ANSWER not in found and _any(cfg.alternatives.compiled, lowered):
            found[WANTS_ALTERNATIVE] = cfg.alternatives.weight
        if self._repeated_value(lowered, prior_user_texts):
            found[REPEATED_VALUE] = cfg.repeated_value.weight
        if self._repeated_question(prior_bot_texts):
            found[QUESTION_REPEATED] = cfg.repeated_question.weight
        return found

    def confirms(self, lowered: str) -> bool:
        return _any(self.config.compiled_success, lowered)

    def sarcastic(self, lowered: str) -> bool:
        spec = self.config.sarcasm
        if _any(spec.compiled_always, lowered):
            return True
        if _any(spec.compiled_polite, lowered):
            return False
        return _any(spec.compiled_praise, lowered) and _any(spec.compiled_context, lowered)

    def _repeated_value(self, lowered: str, prior_user_texts: Sequence[str]) -> bool:
        pattern = self.config.value_pattern
        values = [m.group(0) for m in pattern.finditer(lowered)]
        if not values:
            return False
        if len(values) != len(set(values)):
            return True  # the same value twice in one message: emphasis
        earlier = {
            m.group(0)
            for prior in list(prior_user_texts)[-self.config.repeated_value.lookback :]
            for m in pattern.finditer(prior.lower())
        }
        return bool(earlier & set(values))

    def _repeated_question(self, prior_bot_texts: Sequence[str]) -> bool:
        spec = self.config.repeated_question
        bots = [t for t in prior_bot_texts if "?" in t]
        if len(bots) < 2 or "?" not in (prior_bot_texts[-1] if prior_bot_texts else ""):
            return False
        last, earlier = _question(bots[-1]), [_question(t) for t in bots[-1 - spec.lookback : -1]]
        if _any(spec.compiled_ignore, last.lower()):
            return False
        return self.similarity(last, earlier) >= spec.threshold


def _question(text: str) -> str:
    """The question sentence of a bot turn (its last sentence that ends with a question mark)."""
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if p.strip().endswith("?")]
    return parts[-1] if parts else text
