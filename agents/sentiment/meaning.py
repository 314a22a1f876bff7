"""Meaning before words: messages whose angry-looking words are not anger.

Three classes, each a list of cues in the ``meaning`` section of ``policies/signals.yaml``:

- **excitement**: a swear word or "crazy" intensifying praise or awe ("that was crazy fast"). The intensifier is
  left out of the valence and the profanity marker does not count.
- **no_preference**: indifference about an option is an answer ("any time is fine", "I don't mind which"); a
  bare "I don't care" counts as one when it answers the bot's question. The span is left out of the valence and
  the exasperation marker does not count.
- **decline**: a polite no to an offer ("no thanks", "not right now") is not negative; the span is left out of
  the valence.
- **title**: a name or title the customer mentions ("play Funeral for a Friend", "the movie Dead Poets Society",
  a quoted name) says nothing about how they feel; the span is left out of the valence and of every marker.
- **delight**: capitals and exclamation marks of joy or relief ("YES IT WORKS!!") do not count as shouting.

Excitement and delight do not apply when the same message carries a blocker (a negation, a failure word):
"damn, still broken" stays angry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import Field

from tactful.config import Regexes, Strict

EXCITEMENT = "excitement"
NO_PREFERENCE = "no_preference"
DELIGHT = "delight"
DECLINE = "decline"
TITLE = "title"


def _compiled(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in patterns]


class Excitement(Strict):
    intensifiers: Regexes = []  # words that intensify (damn, crazy, insanely...), without \b
    positive: Regexes = []  # praise or awe they may intensify (fast, good, jump...), without \b
    window: int = Field(default=4, ge=0)  # words allowed between the intensifier and the praise
    suppress: list[str] = ["profanity"]

    @cached_property
    def compiled(self) -> re.Pattern[str] | None:
        if not self.intensifiers or not self.positive:
            return None
        intensifier = "|".join(f"(?:{p})" for p in self.intensifiers)
        positive = "|".join(f"(?:{p})" for p in self.positive)
        gap = r"(?:\W+[\w']+){0,%d}?" % self.window  # noqa: UP031 - a regex quantifier
        return re.compile(
            rf"\b(?P<a>{intensifier})\b{gap}\W+(?:{positive})\b|\b(?:{positive})\b{gap}\W+(?P<b>{intensifier})\b",
            re.IGNORECASE,
        )

    @cached_property
    def compiled_intensifier(self) -> re.Pattern[str]:
        return re.compile(r"\b(?:%s)\b" % "|".join(f"(?:{p})" for p in self.intensifiers or ["(?!)"]), re.I)  # noqa: UP031


class NoPreference(Strict):
    patterns: Regexes = []
    bare: Regexes = []  # only when it answers the bot's question
    suppress: list[str] = ["exasperation"]

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compiled(self.patterns)

    @cached_property
    def compiled_bare(self) -> list[re.Pattern[str]]:
        return _compiled(self.bare)


class Decline(Strict):
    patterns: Regexes = []
    suppress: list[str] = ["correction", "rejected_answer", "restated", "terse_after_failure"]

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compiled(self.patterns)


class Delight(Strict):
    patterns: Regexes = []
    suppress: list[str] = ["caps", "punctuation"]

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compiled(self.patterns)


class MeaningConfig(Strict):
    blockers: Regexes = []  # any of these in the message: no excitement, no delight
    titles: Regexes = []  # names and titles (the capitalised span after "play", "movie", "called"...; quotes)
    excitement: Excitement = Excitement()
    no_preference: NoPreference = NoPreference()
    decline: Decline = Decline()
    delight: Delight = Delight()

    @cached_property
    def compiled_blockers(self) -> list[re.Pattern[str]]:
        return _compiled(self.blockers)

    @cached_property
    def compiled_titles(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.titles]  # case matters: a title is capitalised


@dataclass
class Reading:
    """The classes found, the text VADER should score, the text the markers read (titles left out), and the
    markers that do not count."""

    classes: list[str] = field(default_factory=list)
    scored_text: str = ""
    marker_text: str = ""
    suppressed: set[str] = field(default_factory=set)


class MeaningReader:
    def __init__(self, config: MeaningConfig) -> None:
        self.config = config

    def read(self, text: str, lowered: str, *, answers_question: bool) -> Reading:
        cfg = self.config
        reading = Reading(scored_text=text, marker_text=lowered)
        titled = text
        for pattern in cfg.compiled_titles:
            titled = pattern.sub(lambda m: m.group(0)[: m.start("title") - m.start()] + " ", titled)
        if titled != text:
            reading.classes.append(TITLE)
            text = reading.scored_text = titled
            lowered = reading.marker_text = titled.lower()
        blocked = any(p.search(lowered) for p in cfg.compiled_blockers)
        excitement = cfg.excitement.compiled
        if not blocked and excitement is not None and excitement.search(lowered):
            reading.classes.append(EXCITEMENT)
            reading.suppressed.update(cfg.excitement.suppress)
            reading.scored_text = cfg.excitement.compiled_intensifier.sub(" ", reading.scored_text)
        spans = [p for p in cfg.no_preference.compiled if p.search(lowered)]
        if not spans and answers_question:
            spans = [p for p in cfg.no_preference.compiled_bare if p.search(lowered)]
        if spans:
            reading.classes.append(NO_PREFERENCE)
            reading.suppressed.update(cfg.no_preference.suppress)
            for pattern in spans:
                reading.scored_text = pattern.sub(" ", reading.scored_text)
        declines = [p for p in cfg.decline.compiled if p.search(lowered)]
        if declines:
            reading.classes.append(DECLINE)
            reading.suppressed.update(cfg.decline.suppress)
            for pattern in declines:
                reading.scored_text = pattern.sub(" ", reading.scored_text)
        if not blocked and any(p.search(lowered) for p in cfg.delight.compiled):
            reading.classes.append(DELIGHT)
            reading.suppressed.update(cfg.delight.suppress)
        return reading
