"""Deterministic detectors behind the metrics: repeated questions, restatements and policy breaches.

Patterns and thresholds live in ``evals/detectors.yaml``; the definitions they implement are in
``docs/evals.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from tactful.config import Strict, load_yaml_model

DETECTORS_PATH = Path(__file__).resolve().parent / "detectors.yaml"
SYSTEM_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts" / "system"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9']+")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _valid(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)  # as its users compile it: they find it in re's cache
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


class Slot(Strict):
    asks: list[str] = Field(min_length=1)
    given: list[str] = Field(min_length=1)
    context_keys: list[str] = []
    event_keys: list[str] = []

    _check = field_validator("asks", "given")(_valid)


class Restatement(Strict):
    threshold: float = Field(ge=0, le=1)
    min_words: int = Field(ge=1)
    stopwords: list[str]


class SentimentCfg(Strict):
    low_point: float = Field(ge=0, le=1)
    recovered_share: float = Field(ge=0, le=1)


class DetectorConfig(Strict):
    version: int = 1
    slots: dict[str, Slot]
    request_patterns: list[str]
    min_question_words: int = Field(ge=1)
    same_question_similarity: float = Field(ge=0, le=1)
    same_answer_similarity: float = Field(ge=0, le=1)
    promotional_patterns: list[str]
    asked_about_offers: list[str]
    hold_events: list[str]
    hold_turns: int = Field(ge=1)
    always_forbidden: dict[str, list[str]]
    system_text_ngram: int = Field(ge=3)
    restatement: Restatement
    sentiment: SentimentCfg

    _check = field_validator("request_patterns", "promotional_patterns", "asked_about_offers")(_valid)

    @field_validator("always_forbidden")
    @classmethod
    def _check_forbidden(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            _valid(patterns)
        return value


def _compile(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in patterns]


def _first(patterns: Sequence[re.Pattern[str]], text: str) -> str | None:
    for pattern in patterns:
        m = pattern.search(text)
        if m:
            return m.group(0)
    return None


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def questions(
    text: str, request_patterns: Sequence[re.Pattern[str]] = (), *, min_words: int = 1
) -> list[str]:
    """The sentences of a bot reply that ask the person for something (at least ``min_words`` words long, so a
    rhetorical "Wrong topic?" is not a question)."""
    out: list[str] = []
    for sentence in _SENTENCE.split(text or ""):
        s = sentence.strip()
        if (
            s
            and len(s.split()) >= min_words
            and (s.endswith("?") or any(p.search(s) for p in request_patterns))
        ):
            out.append(s)
    return out


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass(frozen=True)
class RepeatedQuestion:
    turn: int
    kind: str  # slot:<name> | clarify_twice | same_question
    detail: str


@dataclass(frozen=True)
class Breach:
    turn: int
    # forbidden | promotion_during_hold | reply_after_handoff | system_text_leak | <always_forbidden key>
    kind: str
    detail: str


@dataclass(frozen=True)
class BotTurn:
    """What the detectors need of one turn: the person's text, the bot's reply and action, what was known."""

    turn: int
    user: str
    reply: str | None
    action: str
    mode_before: str
    event_types: tuple[str, ...] = ()
    event_details: tuple[Mapping[str, Any], ...] = ()


class Detectors:
    def __init__(self, config: DetectorConfig, *, system_texts: Sequence[str] = ()) -> None:
        self.config = config
        self.system_texts = list(system_texts)

    @classmethod
    def load(cls, path: Path = DETECTORS_PATH, *, system_dir: Path = SYSTEM_PROMPTS_DIR) -> Detectors:
        texts = (
            [p.read_text(encoding="utf-8") for p in sorted(system_dir.glob("*.md"))]
            if system_dir.is_dir()
            else []
        )
        return cls(load_yaml_model(path, DetectorConfig), system_texts=texts)

    @cached_property
    def _requests(self) -> list[re.Pattern[str]]:
        return _compile(self.config.request_patterns)

    @cached_property
    def _slots(self) -> dict[str, tuple[list[re.Pattern[str]], list[re.Pattern[str]], Slot]]:
        return {name: (_compile(s.asks), _compile(s.given), s) for name, s in self.config.slots.items()}

    @cached_property
    def _promo(self) -> list[re.Pattern[str]]:
        return _compile(self.config.promotional_patterns)

    @cached_property
    def _offers(self) -> list[re.Pattern[str]]:
        return _compile(self.config.asked_about_offers)

    @cached_property
    def _forbidden(self) -> dict[str, list[re.Pattern[str]]]:
        return {k: _compile(v) for k, v in self.config.always_forbidden.items()}

    @cached_property
    def _system_ngrams(self) -> set[tuple[str, ...]]:
        n = self.config.system_text_ngram
        grams: set[tuple[str, ...]] = set()
        for text in self.system_texts:
            body = _PLACEHOLDER.sub(" ", re.sub(r"<!--.*?-->", " ", text, flags=re.S))
            w = words(body)
            grams.update(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
        return grams

    # ------------------------------------------------------------------ repeated questions

    def asked_slots(self, reply: str) -> list[str]:
        qs = questions(reply, self._requests, min_words=self.config.min_question_words)
        return [name for name, (asks, _, _) in self._slots.items() if any(_first(asks, q) for q in qs)]

    def given_slots(
        self, user_texts: Sequence[str], context: Mapping[str, Any], details: Sequence[Mapping[str, Any]]
    ) -> set[str]:
        have: set[str] = set()
        for name, (_, given, spec) in self._slots.items():
            if (
                any(_first(given, t) for t in user_texts)
                or any(context.get(k) not in (None, "") for k in spec.context_keys)
                or any(d.get(k) not in (None, "") for d in details for k in spec.event_keys)
            ):
                have.add(name)
        return have

    def is_question(self, turn: BotTurn) -> bool:
        return turn.action == "clarify" or bool(
            turn.reply and questions(turn.reply, self._requests, min_words=self.config.min_question_words)
        )

    def repeated_questions(
        self, turns: Sequence[BotTurn], context: Mapping[str, Any]
    ) -> list[RepeatedQuestion]:
        """Bot turns that ask for something the person already gave, or ask the same question again."""
        found: list[RepeatedQuestion] = []
        user_texts: list[str] = []
        details: list[Mapping[str, Any]] = []
        earlier_questions: list[set[str]] = []
        previous_action: str | None = None
        for t in turns:
            user_texts.append(t.user)
            details.extend(t.event_details)
            if not t.reply or t.mode_before == "human":
                previous_action = None if not t.reply else t.action
                continue
            have = self.given_slots(user_texts, context, details)
            for slot in self.asked_slots(t.reply):
                if slot in have:
                    found.append(
                        RepeatedQuestion(
                            t.turn,
                            f"slot:{slot}",
                            f"asked for the {slot.replace('_', ' ')} the person had already given",
                        )
                    )
            if t.action == "clarify" and previous_action == "clarify":
                found.append(
                    RepeatedQuestion(t.turn, "clarify_twice", "a clarifying question right after another")
                )
            qs = [
                set(words(q))
                for q in questions(t.reply, self._requests, min_words=self.config.min_question_words)
            ]
            for q in qs:
                if any(jaccard(q, e) >= self.config.same_question_similarity for e in earlier_questions):
                    if not any(r.turn == t.turn for r in found):
                        found.append(
                            RepeatedQuestion(t.turn, "same_question", "asked the same question again")
                        )
                    break
            earlier_questions.extend(qs)
            previous_action = t.action
        return found

    def repeated_answers(self, turns: Sequence[BotTurn]) -> list[RepeatedQuestion]:
        """Bot turns that send (nearly) the same answer as the bot's previous reply (a restart)."""
        found: list[RepeatedQuestion] = []
        previous: set[str] | None = None
        for t in turns:
            if not t.reply or t.mode_before == "human":
                continue
            mine = set(words(t.reply))
            if (
                previous is not None
                and t.action != "clarify"
                and jaccard(mine, previous) >= self.config.same_answer_similarity
            ):
                found.append(
                    RepeatedQuestion(t.turn, "same_answer", "sent the same answer as the turn before")
                )
            previous = mine
        return found

    # ------------------------------------------------------------------ restatements

    def content_words(self, text: str) -> set[str]:
        """Content words, crudely stemmed ("looping", "loops" → "loop")."""
        stop = set(self.config.restatement.stopwords)
        return {_stem(w) for w in words(text) if w not in stop and len(w) > 1}

    def restates(self, text: str, earlier: Sequence[str]) -> bool:
        cfg = self.config.restatement
        mine = self.content_words(text)
        if len(mine) < cfg.min_words:
            return False
        for other in earlier:
            theirs = self.content_words(other)
            if len(theirs) < cfg.min_words:
                continue
            dice = 2 * len(mine & theirs) / (len(mine) + len(theirs))
            if dice >= cfg.threshold:
                return True
        return False

    # ------------------------------------------------------------------ policy breaches

    def in_hold(self, event_types: Sequence[str]) -> bool:
        return any(e in self.config.hold_events for e in event_types)

    def promotional(self, text: str) -> str | None:
        return _first(self._promo, text)

    def asked_about_offers(self, text: str) -> bool:
        return _first(self._offers, text) is not None

    def leaks_system_text(self, text: str) -> bool:
        n = self.config.system_text_ngram
        w = words(text)
        return any(tuple(w[i : i + n]) in self._system_ngrams for i in range(len(w) - n + 1))

    def text_breaches(self, text: str, *, turn: int, forbidden: Sequence[str] = ()) -> list[Breach]:
        """Breaches any bot text can commit: scenario-forbidden, always-forbidden, system text."""
        out: list[Breach] = []
        lowered = text.lower()
        for phrase in forbidden:
            if phrase.lower() in lowered:
                out.append(Breach(turn, "forbidden", f"said {phrase!r}"))
        for kind, patterns in self._forbidden.items():
            hit = _first(patterns, text)
            if hit:
                out.append(Breach(turn, kind, f"said {hit!r}"))
        if self.leaks_system_text(text):
            out.append(Breach(turn, "system_text_leak", "repeated the system prompt"))
        return out

    def breaches(self, turns: Sequence[BotTurn], *, forbidden: Mapping[int, Sequence[str]]) -> list[Breach]:
        """Every policy breach in a support conversation (``forbidden``: scenario phrases per turn number)."""
        out: list[Breach] = []
        hold_until = 0
        for t in turns:
            if self.in_hold(t.event_types):
                hold_until = t.turn + self.config.hold_turns - 1
            if not t.reply:
                continue
            if t.mode_before == "human":
                out.append(
                    Breach(
                        t.turn, "reply_after_handoff", "the bot replied while a person owned the conversation"
                    )
                )
            out.extend(self.text_breaches(t.reply, turn=t.turn, forbidden=forbidden.get(t.turn, ())))
            promo = self.promotional(t.reply)
            if promo and t.turn <= hold_until and not self.asked_about_offers(t.user):
                out.append(Breach(t.turn, "promotion_during_hold", f"promoted ({promo!r}) during a hold"))
        return out


@lru_cache(maxsize=1)
def default_detectors() -> Detectors:
    return Detectors.load()


def restates_earlier(text: str, earlier: Sequence[str]) -> bool:
    return default_detectors().restates(text, earlier)
