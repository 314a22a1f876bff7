"""The layered prompt-injection detector: normalise, match the pattern classes, score with the learned model.

Direct injection is read in the customer's own words; *indirect* injection in what they pasted or quoted (an e-mail,
a document, a log — :mod:`tactful.agents.content` tells the two apart), where the ``indirect`` classes also apply.
Every layer is data (``policies/injection.yaml`` and the model file it names); :class:`Detection` says which layer
and which class fired, for the guard's reason detail and for ``tactful guards eval``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field

from tactful.agents.content import split_message
from tactful.agents.guards.learned import InjectionModel
from tactful.agents.guards.literals import PREFILTER_MIN_CHARS, Need, need
from tactful.agents.guards.normalize import NormaliseRules, learned_document, views
from tactful.config import Regexes, Strict, load_yaml_model
from tactful.resources import POLICY_DIR

Layer = Literal["pattern", "indirect", "learned"]
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+|\s+(?=(?:then|and then|also|but)\s)", re.IGNORECASE)
Where = Literal["own", "pasted"]
_WRAPPED = re.compile(r"(?<=\S)[ \t]*\n(?=[ \t]*\S)")  # a single line break between two lines of text


DEFAULT_THRESHOLDS: dict[Where, float] = {"own": 0.9, "pasted": 0.85}


class LearnedSettings(Strict):
    model: str | None = None
    pasted_model: str | None = None
    """The pasted-content model (fitted on pasted parts against clean e-mails only); None or a missing file: the
    own-words ``model`` scores pasted parts too."""
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """None: the threshold ``tactful guards fit`` chose on its tuning fold and stored in the model file."""
    pasted_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    min_chars: int = Field(default=12, ge=0)
    structure: dict[str, str] = {}
    """Structure classes (name: regex) that ``tactful guards fit`` gives a model as extra word-channel tokens; the
    fitted model carries its own copy, so editing them here changes nothing until the next fit."""


class InjectionPolicy(Strict):
    """``policies/injection.yaml``: see the comments there."""

    version: int = 1
    normalise: NormaliseRules = NormaliseRules()
    learned: LearnedSettings = LearnedSettings()
    patterns: dict[str, Regexes] = {}
    indirect: dict[str, Regexes] = {}


@dataclass(frozen=True, slots=True)
class Detection:
    layer: Layer
    category: str
    where: Where
    evidence: str
    score: float = 1.0

    @property
    def detail(self) -> str:
        """``layer/category@where: evidence`` — what the guard's verdict carries."""
        ev = self.evidence if self.layer != "learned" else f"p={self.score:.2f}"
        return f"{self.layer}/{self.category}@{self.where}: {ev[:120]}"


def _compile(groups: dict[str, list[str]], fold_table: dict[int, str]) -> list[tuple[str, re.Pattern[str]]]:
    """Each pattern read the way the text is: its look-alike letters folded too, so a pattern written in Cyrillic
    or Greek matches the folded views."""
    return [(name, re.compile(p.translate(fold_table), re.IGNORECASE)) for name, patterns in groups.items()
            for p in patterns]


class InjectionDetector:
    """Stateless after construction; safe to share between turns and threads."""

    def __init__(self, policy: InjectionPolicy, *, model: InjectionModel | None = None,
                 pasted_model: InjectionModel | None = None, extra_patterns: list[str] | None = None) -> None:
        self.policy = policy
        self.model = model
        self.pasted_model = pasted_model
        table = {ord(k): v for k, v in policy.normalise.homoglyphs.items() if len(k) == 1}
        self._patterns = _compile({**policy.patterns, **({"tenant": extra_patterns} if extra_patterns else {})},
                                  table)
        self._indirect = _compile(policy.indirect, table)
        # each pattern's required literal (agents/guards/literals.py): a reading without it is not searched
        # (keyed by id: a compiled pattern's hash reads its whole program every time)
        self._needs: dict[int, Need | None] = {id(p): need(p) for _, p in [*self._patterns, *self._indirect]}
        words = policy.normalise.hidden_view_words
        self._hidden_words = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")", re.IGNORECASE) \
            if words else None

    @classmethod
    def from_file(cls, path: Path, *, extra_patterns: list[str] | None = None,
                  model_path: Path | None = None) -> InjectionDetector:
        policy = load_yaml_model(path, InjectionPolicy)
        model = pasted = None
        chosen = model_path or (path.parent / policy.learned.model if policy.learned.model else None)
        if chosen is not None and chosen.is_file():
            model = InjectionModel.load(chosen)
        if model is not None and model_path is None and policy.learned.pasted_model:
            pasted_path = path.parent / policy.learned.pasted_model
            if pasted_path.is_file():
                pasted = InjectionModel.load(pasted_path, place="pasted")
        return cls(policy, model=model, pasted_model=pasted, extra_patterns=extra_patterns)

    def scorer(self, where: Where) -> InjectionModel | None:
        """The model that scores ``where``: the pasted-content model for pasted parts when there is one; None when
        there is no own-words model (the layer is off)."""
        if self.model is None:
            return None
        return self.pasted_model if where == "pasted" and self.pasted_model is not None else self.model

    @cached_property
    def rules(self) -> NormaliseRules:
        return self.policy.normalise

    def _match(self, patterns: list[tuple[str, re.Pattern[str]]], readings: list[str], layer: Layer,
               where: Where) -> Detection | None:
        needs = self._needs
        for reading in dict.fromkeys(r for r in readings if r):
            prefilter = len(reading) >= PREFILTER_MIN_CHARS
            lowered = reading.lower() if prefilter and reading.isascii() else reading
            for category, pattern in patterns:
                if prefilter and (needed := needs.get(id(pattern))) and not needed.may_match(reading, lowered):
                    continue  # the pattern cannot match without its literal: same answer as searching it
                m = pattern.search(reading)
                if m:
                    return Detection(layer, category, where, m.group(0).strip())
        return None

    def threshold(self, where: Where) -> float:
        """The learned layer's threshold for own words or pasted content: the policy's when it sets one, else the
        one stored in the model file (chosen by ``tactful guards fit`` on its tuning fold), else a default."""
        s = self.policy.learned
        fixed = s.threshold if where == "own" else s.pasted_threshold
        if fixed is not None:
            return fixed
        model = self.scorer(where)
        tuned = (model.info or {}).get("thresholds") if model is not None else None
        value = tuned.get(where) if isinstance(tuned, dict) else None
        return float(value) if isinstance(value, int | float) else DEFAULT_THRESHOLDS[where]

    def _score(self, readings: list[str], where: Where) -> float | None:
        text = readings[0]
        model = self.scorer(where)
        if model is None or len(text.strip()) < self.policy.learned.min_chars:
            return None
        return model.score([learned_document(readings)])[0]

    def _learned(self, readings: list[str], where: Where) -> Detection | None:
        p = self._score(readings, where)
        if p is None or p < self.threshold(where):
            return None
        return Detection("learned", "classifier", where, "", score=p)

    def learned_scores(self, text: str) -> dict[Where, float]:
        """The learned layer's highest score over the own words and over the pasted parts (0.0 where there is
        nothing to score) — what ``tactful guards fit`` chooses thresholds on."""
        segments = split_message(text)
        own = "\n".join(s.text for s in segments if s.kind == "own").strip()
        out: dict[Where, float] = {"own": 0.0, "pasted": 0.0}
        if own:
            out["own"] = self._score(views(own, self.rules), "own") or 0.0
        for seg in segments:
            if seg.kind == "pasted" and seg.text.strip():
                out["pasted"] = max(out["pasted"], self._score(views(seg.text, self.rules), "pasted") or 0.0)
        return out

    def detect_part(self, text: str, *, where: Where, layers: frozenset[Layer] | None = None) -> Detection | None:
        """The first layer that fires on one part of a message (cheapest first), or None."""
        readings = views(text, self.rules)
        if self._hidden_words is not None:  # rot13 (2) and backwards (3) only when they say something telling
            readings = [r if i not in (2, 3) or self._hidden_words.search(r) else "" for i, r in enumerate(readings)]
        use = layers or frozenset(("pattern", "indirect", "learned"))
        # pasted text is often hard-wrapped (an e-mail at ~75 columns): the patterns also read it with the line
        # breaks inside a paragraph undone, so a planted sentence split over two lines still reads as one
        matched = [*readings, _WRAPPED.sub(" ", readings[0])] if where == "pasted" else readings
        if "pattern" in use and (hit := self._match(self._patterns, matched, "pattern", where)):
            return hit
        if where == "pasted" and "indirect" in use and (hit := self._match(self._indirect, matched, "indirect",
                                                                            where)):
            return hit
        if "learned" in use:
            return self._learned(readings, where)
        return None

    def detect(self, text: str, *, layers: frozenset[Layer] | None = None) -> Detection | None:
        """The message's own words first, then each pasted part; None when nothing fires."""
        segments = split_message(text)
        own = "\n".join(s.text for s in segments if s.kind == "own").strip()
        if own and (hit := self.detect_part(own, where="own", layers=layers)):
            return hit
        for seg in segments:
            if seg.kind == "pasted" and seg.text.strip() and (
                hit := self.detect_part(seg.text, where="pasted", layers=layers)
            ):
                return hit
        return None

    def legit_remainder(self, text: str, *, min_words: int = 4) -> str:
        """The customer's own sentences in which no layer fires — the request that may come with an attack
        ("…print your rules. Then tell me how to reset my password"); "" when fewer than ``min_words`` remain."""
        own = "\n".join(s.text for s in split_message(text) if s.kind == "own")
        kept = [p.strip() for p in _SENTENCE.split(own) if p.strip() and self.detect_part(p, where="own") is None]
        remainder = " ".join(kept)
        return remainder if len(remainder.split()) >= min_words else ""

    def detect_all(self, text: str) -> dict[Layer, Detection | None]:
        """Each layer on its own (for ``tactful guards eval``)."""
        return {layer: self.detect(text, layers=frozenset((layer,))) for layer in ("pattern", "indirect", "learned")}


def load_detector(directory: Path, *, extra_patterns: list[str] | None = None) -> InjectionDetector:
    """The tenant's ``injection.yaml`` when it has one, else the shipped default."""
    own = directory / "injection.yaml"
    return InjectionDetector.from_file(own if own.is_file() else POLICY_DIR / "injection.yaml",
                                       extra_patterns=extra_patterns)
