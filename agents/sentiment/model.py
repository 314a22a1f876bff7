"""The offline sentiment reasoner: VADER valence, frustration markers, behavioural events, a trend over turns.

Pure logic, no graph and no model: :meth:`SentimentReasoner.assess` turns one user message (with the
conversation's earlier sentiment, user texts and events) into the :class:`~tactful.agents.state.SentimentState`
after that turn. Every signal and weight lives in ``policies/signals.yaml``; the method and its measured
figures are in ``docs/sentiment.md``.

Frustration is a noisy-OR of independent contributions (negative valence, each marker, events, a carry of the
previous turn), so each signal can only raise it and it stays in 0..1. Two rules hold whatever the weights:
a terse message raises frustration only right after a bot failure (never on mobile), and hurry cues raise
urgency only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from itertools import pairwise
from pathlib import Path

from pydantic import Field, PrivateAttr, field_validator, model_validator
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from tactful.agents.sentiment.dialogue import CORRECTION, DIALOGUE_CODES, SARCASM, DialogueConfig, DialogueReader
from tactful.agents.sentiment.learned import DissatisfactionModel, TurnContext, load_model
from tactful.agents.sentiment.meaning import MeaningConfig, MeaningReader
from tactful.agents.sentiment.valence import BoundedValence
from tactful.agents.state import Event, SentimentLabel, SentimentState, SentimentTurn, Trend
from tactful.config import Regexes, Strict, check_patterns, load_yaml_model
from tactful.errors import ConfigError
from tactful.resources import POLICY_DIR

DEFAULT_SIGNALS_PATH = POLICY_DIR / "signals.yaml"

Label = SentimentLabel

# Marker codes, as they appear in ``SentimentState.markers`` / ``SentimentTurn.markers``.
RESTATED = "restated"
AGAIN = "again"
NTH_TIME = "nth_time"
CAPS = "caps"
PUNCTUATION = "punctuation"
PROFANITY = "profanity"
BOT_NEGATIVE = "bot_negative"
EXASPERATION = "exasperation"
TERSE_AFTER_FAILURE = "terse_after_failure"
CANCEL_THREAT = "cancel_threat"
DISTRESS = "distress"
MARKER_CODES: tuple[str, ...] = (
    RESTATED,
    AGAIN,
    NTH_TIME,
    CAPS,
    PUNCTUATION,
    PROFANITY,
    BOT_NEGATIVE,
    EXASPERATION,
    TERSE_AFTER_FAILURE,
    CANCEL_THREAT,
    DISTRESS,
    *DIALOGUE_CODES,
)

Weight = float  # a contribution in 0..1


# --------------------------------------------------------------------------- configuration


def _compile_all(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    return [re.compile(pattern, re.IGNORECASE) for pattern in patterns]


class PatternMarker(Strict):
    """A marker that fires when any of its patterns matches."""

    weight: float = Field(ge=0, le=1)
    patterns: Regexes = Field(min_length=1)

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compile_all(self.patterns)


class DistressMarker(PatternMarker):
    urgency: float = Field(ge=0, le=1)


class RestatedMarker(Strict):
    weight: float = Field(ge=0, le=1)
    threshold: float = Field(gt=0, le=1)
    min_tokens: int = Field(ge=1)
    lookback: int = Field(ge=1)
    synonyms: dict[str, str] = {}
    ignore_words: list[str] = []
    cues: Regexes = []  # phrases that say "I am asking this again" in other words ("as I said", "I mean")

    @cached_property
    def compiled_cues(self) -> list[re.Pattern[str]]:
        return _compile_all(self.cues)


class CapsMarker(Strict):
    weight: float = Field(ge=0, le=1)
    min_length: int = Field(ge=2)
    min_words: int = Field(ge=1)
    acronyms: list[str] = []


class PunctuationMarker(Strict):
    weight: float = Field(ge=0, le=1)
    min_run: int = Field(ge=2)


class TerseRule(Strict):
    weight: float = Field(ge=0, le=1)
    max_words: int = Field(ge=1)
    max_compound: float = Field(ge=-1, le=1)
    ignore_after_actions: list[str] = []
    ignore_data: bool = True
    questions: Regexes = []  # a short question that asks for something ("which one?") is not curt

    @cached_property
    def compiled_questions(self) -> list[re.Pattern[str]]:
        return _compile_all(self.questions)
    mobile_factor: float = Field(ge=0, le=1)
    mobile_channels: list[str] = []
    mobile_devices: list[str] = []


class Markers(Strict):
    acknowledgements: Regexes = []  # replies that agree or confirm: neither curt nor a restatement
    restated: RestatedMarker
    again: PatternMarker
    nth_time: PatternMarker
    caps: CapsMarker
    punctuation: PunctuationMarker
    profanity: PatternMarker
    bot_negative: PatternMarker
    exasperation: PatternMarker
    terse_after_failure: TerseRule
    cancel_threat: PatternMarker
    distress: DistressMarker


class ProblemWords(Strict):
    """Words that name the state of a product or an account ("fails", "error", "broken"): in support traffic they
    describe the issue, not how the person feels about it, so their lexicon valence is scaled by ``scale``."""

    scale: float = Field(default=1.0, ge=0, le=1)
    words: list[str] = Field(default_factory=list)


class Valence(Strict):
    weight: float = Field(ge=0, le=1)
    floor: float = Field(ge=0, lt=1)
    exponent: float = Field(gt=0)
    lean: float = Field(default=0.0, ge=0, le=0.2)
    problem_words: ProblemWords = Field(default_factory=ProblemWords)


class Limits(Strict):
    """What one turn may cost: the reasoner reads at most ``max_chars`` characters, VADER at most ``max_words``
    words, in segments of ``window_words`` (VADER is quadratic within a segment, so the segment is kept small)."""

    max_chars: int = Field(default=6000, ge=100)
    max_words: int = Field(default=800, ge=10)
    window_words: int = Field(default=60, ge=5)

    @model_validator(mode="after")
    def _window_fits(self) -> Limits:
        if self.window_words > self.max_words:
            raise ValueError("window_words must not exceed max_words")
        return self


class Cue(Strict):
    pattern: str
    weight: float = Field(ge=0, le=1)

    @field_validator("pattern")
    @classmethod
    def _valid(cls, value: str) -> str:
        check_patterns([value])
        return value

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


class UrgencyConfig(Strict):
    carry: float = Field(ge=0, le=1)
    hurried_at: float = Field(gt=0, le=1)
    hurry: list[Cue]
    keywords: list[Cue] = []
    calm: Regexes = []  # time words that are no hurry ("not right now", "no rush", "that was quick"): left out

    @cached_property
    def compiled_calm(self) -> list[re.Pattern[str]]:
        return _compile_all(self.calm)


class EventWeight(Strict):
    frustration: float = Field(ge=0, le=1)
    urgency: float = Field(default=0.0, ge=0, le=1)


class EventsConfig(Strict):
    decay_per_turn: float = Field(ge=0, le=1)
    half_life_minutes: float = Field(gt=0)
    repeat_boost: float = Field(ge=0)
    max_frustration: float = Field(ge=0, le=1)
    aliases: dict[str, str] = {}
    weights: dict[str, EventWeight]

    @model_validator(mode="after")
    def _aliases_resolve(self) -> EventsConfig:
        for alias, target in self.aliases.items():
            if target not in self.weights:
                raise ValueError(f"alias {alias!r} points to {target!r}, which has no weights")
        return self


class CarryConfig(Strict):
    inertia: float = Field(ge=0, lt=1)
    accumulate: float = Field(ge=0, lt=1)
    accumulate_from: float = Field(gt=0, le=1)
    relief_event_factor: float = Field(ge=0, le=1)
    relief: Regexes

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return _compile_all(self.relief)


class TrendConfig(Strict):
    window: int = Field(ge=2)
    min_points: int = Field(ge=2)
    dead_band: float = Field(ge=0)
    min_moves: int = Field(ge=1)
    move_epsilon: float = Field(ge=0)
    history_limit: int = Field(default=50, ge=2)


class LabelThresholds(Strict):
    frustrated: float = Field(gt=0, le=1)
    negative: float = Field(gt=0, le=1)
    negative_score: float = Field(ge=-1, le=0)
    positive_score: float = Field(ge=0, le=1)
    positive_max_frustration: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> LabelThresholds:
        if self.negative > self.frustrated:
            raise ValueError("the negative threshold must not exceed the frustrated threshold")
        return self


class LearnedChannel(Strict):
    """The learned dissatisfaction channel (``agents/sentiment/learned.py``): the model's probability ``p`` adds
    ``weight * (p - floor) / (1 - floor)`` to the noisy-OR the label reads when ``p`` is above ``floor``. It can
    make a turn ``negative``; it never moves ``frustration`` (the value handoff rules, carry and trend read)."""

    model: str | None = None  # file written by ``tactful sentiment fit``, relative to the signals file's folder
    weight: float = Field(default=0.0, ge=0, le=1)
    floor: float = Field(default=0.5, ge=0, lt=1)
    off_for: list[str] = []  # meaning classes under which it does not count (a polite decline is no complaint)
    # Before the bot has said anything there is no conversation to be dissatisfied with, and the development
    # dialogues have no dissatisfied first message to choose these by: a first message keeps its own calibration.
    first_weight: float | None = Field(default=None, ge=0, le=1)  # None: ``weight``
    first_floor: float | None = Field(default=None, ge=0, lt=1)  # None: ``floor``
    # A first message is read by a model of its own when one is named (``tactful sentiment fit-first``: negative
    # emotion in single comments, GoEmotions train, against support requests): an opening message is a comment,
    # not a reply in a dialogue. Below ``first_veto`` that model's probability, an opening message does not read
    # ``negative`` on its words alone (valence and markers, which the model reads as context tokens); with an
    # event it still can, and ``frustrated`` and ``distressed`` are the rules' and stay.
    first_model: str | None = None
    first_veto: float = Field(default=0.0, ge=0, lt=1)
    # Once the bot has spoken: below ``veto`` the dialogue model's probability, a turn with no marker and no event
    # does not read ``negative`` on its valence alone (VADER reads "stop", "missing", "fee" in a plain question as
    # negative). A turn with a marker, ``frustrated`` and ``distressed`` are the rules' and stay.
    veto: float = Field(default=0.0, ge=0, lt=1)

    def calibration(self, *, bot_spoke: bool) -> tuple[float, float]:
        """(weight, floor) for a turn, by whether the bot has spoken yet."""
        if bot_spoke:
            return self.weight, self.floor
        return (self.weight if self.first_weight is None else self.first_weight,
                self.floor if self.first_floor is None else self.first_floor)


class SignalConfig(Strict):
    """Everything the reasoner weighs, loaded from ``policies/signals.yaml``."""

    version: int = 1
    limits: Limits = Limits()
    valence: Valence
    intensifier_max_compound: float = Field(ge=-1, le=1)
    markers: Markers
    urgency: UrgencyConfig
    events: EventsConfig
    carry: CarryConfig
    trend: TrendConfig
    labels: LabelThresholds
    dialogue: DialogueConfig = DialogueConfig()
    meaning: MeaningConfig = MeaningConfig()
    learned: LearnedChannel = LearnedChannel()
    _directory: Path = PrivateAttr(default=POLICY_DIR)

    def learned_model(self) -> DissatisfactionModel | None:
        """The learned channel's model (read from the signals file's folder), or None when it is off."""
        spec = self.learned
        if spec.model is None or spec.weight <= 0:
            return None
        return self._load(spec.model)

    def first_learned_model(self) -> DissatisfactionModel | None:
        """The first-message model (``learned.first_model``), or None when first messages use ``learned.model``."""
        spec = self.learned
        if spec.first_model is None or spec.calibration(bot_spoke=False)[0] <= 0:
            return None
        return self._load(spec.first_model)

    def _load(self, name: str) -> DissatisfactionModel:
        path = Path(name)
        return load_model(path if path.is_absolute() else self._directory / path)


def load_signal_config(path: Path | None = None) -> SignalConfig:
    """Load and validate the signals file; a bad key or value raises :class:`ConfigError` with file:line."""
    target = path if path is not None else DEFAULT_SIGNALS_PATH
    if not target.is_file():
        raise ConfigError("signals file not found", path=target)
    config = load_yaml_model(target, SignalConfig)
    config._directory = target.resolve().parent
    return config


# --------------------------------------------------------------------------- text helpers

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_CONTRACTIONS = (
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\bcan'?t\b"), "can not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'(s|m|re|ll|ve|d)\b"), ""),
)
_WORD = re.compile(r"[a-z0-9]+")
_RAW_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_DATA_TOKEN = re.compile(r"\d|@|#")
_SUFFIXES = ("ing", "ed", "es", "s", "e")


def _normalize(text: str) -> str:
    return text.translate(_APOSTROPHES).lower()


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def _noisy_or(weights: Iterable[float]) -> float:
    keep = 1.0
    for weight in weights:
        keep *= 1.0 - min(1.0, max(0.0, weight))
    return 1.0 - keep


def _dice(left: set[str], right: set[str]) -> float:
    if not left or not right:
        return 0.0
    return 2.0 * len(left & right) / (len(left) + len(right))


def _trigrams(tokens: Sequence[str]) -> set[str]:
    joined = "".join(tokens)
    if len(joined) < 3:
        return {joined} if joined else set()
    return {joined[i : i + 3] for i in range(len(joined) - 2)}


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def least_squares_slope(values: Sequence[float]) -> float:
    """Slope of the least-squares line through ``values`` at x = 0, 1, 2, ... (0 below two points)."""
    count = len(values)
    if count < 2:
        return 0.0
    mean_x = (count - 1) / 2.0
    mean_y = sum(values) / count
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(count))
    return num / den


# --------------------------------------------------------------------------- the reasoner


def _analyzer(config: SignalConfig) -> SentimentIntensityAnalyzer:
    """VADER with the problem words' valence scaled (its lexicon is the instance's own dict)."""
    analyzer = SentimentIntensityAnalyzer()
    problem = config.valence.problem_words
    for word in problem.words:
        if word in analyzer.lexicon:
            analyzer.lexicon[word] *= problem.scale
    return analyzer


class SentimentReasoner:
    """Scores a conversation's sentiment turn by turn from text, markers, events, history."""

    def __init__(
        self,
        config: SignalConfig,
        *,
        learned: DissatisfactionModel | None = None,
        first: DissatisfactionModel | None = None,
    ) -> None:
        self.config = config
        self._learned = learned if learned is not None else config.learned_model()
        # A model given for the dialogue reads first messages too unless a first-message model is given with it.
        self._first = first if first is not None else (None if learned is not None else config.first_learned_model())
        self.last_context: TurnContext | None = None  # the learned channel's view of the last turn (for fitting)
        self._compound = BoundedValence(
            window_words=config.limits.window_words, max_words=config.limits.max_words, analyzer=_analyzer(config)
        )
        restated = config.markers.restated
        self._synonyms = {_normalize(k): _normalize(v) for k, v in restated.synonyms.items()}
        self._ignore = {_normalize(word) for word in restated.ignore_words}
        self._acronyms = {word.upper() for word in config.markers.caps.acronyms}
        run = config.markers.punctuation.min_run
        self._punct = re.compile(r"[!?]{%d,}" % run)  # noqa: UP031 - a regex quantifier, not formatting
        self._events: dict[str, EventWeight] = dict(config.events.weights)
        self._acknowledgements = _compile_all(config.markers.acknowledgements)
        self._dialogue = DialogueReader(config.dialogue, similarity=self.restatement_similarity)
        self._meaning = MeaningReader(config.meaning)

    # ------------------------------------------------------------------ public API

    def assess(
        self,
        text: str,
        *,
        turn: int,
        previous: SentimentState | None,
        prior_user_texts: Sequence[str],
        events: Sequence[Event],
        last_bot_action: str | None,
        failures: int,
        channel: str | None = None,
        device: str | None = None,
        now: datetime | str | None = None,
        prior_bot_texts: Sequence[str] = (),
    ) -> SentimentState:
        """The conversation's sentiment after this user turn.

        ``events`` are all behavioural events known so far; each weighs less every turn after the one it
        arrived on (``detail["turn"]``) or, without one, every half-life after its ``at`` when ``now`` is
        given; otherwise it counts in full until a relief message ("thanks, that worked") damps it.
        ``prior_bot_texts`` are the bot's earlier turns, latest last (the dialogue channel reads them).
        """
        cfg = self.config
        limit = cfg.limits.max_chars
        text = text[:limit].translate(_APOSTROPHES)
        prior_user_texts = [prior[:limit] for prior in prior_user_texts]
        prior_bot_texts = [bot[:limit] for bot in prior_bot_texts]
        lowered = _normalize(text)
        asked = last_bot_action == "clarify" or bool(prior_bot_texts and prior_bot_texts[-1].rstrip().endswith("?"))
        reading = self._meaning.read(text, lowered, answers_question=asked)
        scored = reading.scored_text
        for pattern in cfg.urgency.compiled_calm:
            scored = pattern.sub(" ", scored)  # "no rush" is neither a hurry nor a negative
        score = self._compound.compound(scored)
        whole = lowered
        lowered = reading.marker_text  # a title ("play Funeral for a Friend") is no cue
        relief = any(p.search(whole) for p in cfg.carry.compiled)
        dialogue = self._dialogue.read(
            text,
            lowered,
            prior_user_texts=prior_user_texts,
            prior_bot_texts=prior_bot_texts,
            bot_spoke=last_bot_action is not None or bool(prior_bot_texts),
        )
        if SARCASM in dialogue and score > 0:
            score = -score  # praise of a failure means the opposite

        markers, marker_weights = self._markers(
            text,
            lowered,
            score=score,
            prior_user_texts=prior_user_texts,
            last_bot_action=last_bot_action,
            failures=failures,
            mobile=self._is_mobile(channel, device),
            extra=dialogue,
            suppressed=reading.suppressed,
        )
        context = TurnContext(
            turn=turn,
            bot_spoke=last_bot_action is not None or bool(prior_bot_texts),
            bot_asked=asked,
            last_bot_action=last_bot_action,
            failures=failures,
            markers=tuple(markers),
            classes=tuple(reading.classes),
            similarity=self.restatement_similarity(text, prior_user_texts) if prior_user_texts else 0.0,
            compound=score,
            previous_label=previous["label"] if previous else None,
        )
        self.last_context = context
        text_frustration = _noisy_or([self._valence(score), *marker_weights])
        learned, vetoed = self._learned_weight(text, context)

        event_frustration, event_urgency = self._event_pressure(events, turn=turn, now=_parse_time(now))
        earlier = list(previous["history"]) if previous else []
        kept = [entry for entry in earlier if entry["turn"] < turn]
        prev_frustration, prev_urgency = self._carried(previous, kept, rescoring=len(kept) < len(earlier))
        inertia = cfg.carry.accumulate if text_frustration >= cfg.carry.accumulate_from else cfg.carry.inertia
        carry = inertia * max(0.0, prev_frustration - event_frustration)
        urgency_carry = cfg.urgency.carry * prev_urgency
        if relief:
            carry = 0.0
            urgency_carry = 0.0
            event_frustration *= cfg.carry.relief_event_factor
            event_urgency *= cfg.carry.relief_event_factor
        frustration = _noisy_or([text_frustration, carry, event_frustration])
        # The first-message model reads the words and the markers they fire (its context tokens), not events or a
        # carry: it can overrule what the words say, not what happened.
        # The dialogue model's veto reads only this turn's valence: the carry is left to it (a turn that keeps 0.35 of
        # an earlier frustration is not negative on that alone, the carry stays in ``frustration``), events are not.
        vetoed = vetoed and event_frustration <= 0 and (carry <= 0 or context.bot_spoke)

        timed = lowered
        for pattern in cfg.urgency.compiled_calm:
            timed = pattern.sub(" ", timed)  # "not right now", "no rush", "that was quick" are no hurry
        hurry = _noisy_or(cue.weight for cue in cfg.urgency.hurry if cue.compiled.search(timed))
        keywords = _noisy_or(cue.weight for cue in cfg.urgency.keywords if cue.compiled.search(lowered))
        distress_urgency = cfg.markers.distress.urgency if DISTRESS in markers else 0.0
        urgency = _noisy_or([hurry, keywords, distress_urgency, event_urgency, urgency_carry])
        terse = self._is_terse(text)
        hurried = hurry >= cfg.urgency.hurried_at or (
            bool(previous and previous["hurried"]) and terse and not relief
        )

        frustration = round(frustration, 4)
        urgency = round(urgency, 4)
        this_turn: SentimentTurn = {
            "turn": turn,
            "score": round(score, 4),
            "frustration": frustration,
            "urgency": urgency,
            "markers": markers,
        }
        history = [*kept, this_turn][-cfg.trend.history_limit :]
        worst = max([frustration, *(entry["frustration"] for entry in kept)])
        if previous and len(kept) == len(earlier):
            worst = max(worst, previous["worst"])
        trend, slope = self.trend([entry["frustration"] for entry in history])

        distressed = DISTRESS in markers or (
            bool(previous and previous["label"] == "distressed") and not relief
        )
        return {
            "score": round(score, 4),
            "frustration": frustration,
            "urgency": urgency,
            "label": self._label(score, frustration, dissatisfaction=_noisy_or([frustration, learned]),
                                 distressed=distressed, vetoed=vetoed),
            "hurried": hurried,
            "markers": markers,
            "trend": trend,
            "slope": slope,
            "worst": round(worst, 4),
            "history": history,
        }

    def restated(self, text: str, prior_user_texts: Sequence[str]) -> bool:
        """True when ``text`` asks for the same thing as one of the recent earlier user texts: in the same words
        (similarity at or above the threshold), or in other words that say so ("as I said", "that's not what
        I asked", "sorry, I mean ...")."""
        if not prior_user_texts:
            return False
        spec = self.config.markers.restated
        lowered = _normalize(text)
        if any(p.search(lowered) for p in spec.compiled_cues):
            return True
        if any(p.search(lowered) for p in self._acknowledgements):
            return False  # "sounds good" twice agrees twice; it asks for nothing
        return self.restatement_similarity(text, prior_user_texts) >= spec.threshold

    def confirms(self, text: str) -> bool:
        """True when ``text`` tells the bot it got it right ("yes, that's correct", "that works, thanks"): the
        end of a run of failed turns."""
        lowered = _normalize(text[: self.config.limits.max_chars])
        return self._dialogue.confirms(lowered) or any(p.search(lowered) for p in self.config.carry.compiled)

    def restatement_similarity(self, text: str, prior_user_texts: Sequence[str]) -> float:
        """Highest similarity (0..1) of ``text`` to the last ``lookback`` earlier user texts.

        Similarity is the larger of the Dice overlap of content tokens (stopwords and "still/again" dropped,
        contractions expanded, synonyms folded, light stemming) and the Dice overlap of their character
        trigrams (robust to "log in" vs "login"). Texts with fewer than ``min_tokens`` content tokens never
        match.
        """
        spec = self.config.markers.restated
        tokens = self._content_tokens(text)
        if len(tokens) < spec.min_tokens:
            return 0.0
        token_set, grams = set(tokens), _trigrams(tokens)
        best = 0.0
        for prior in list(prior_user_texts)[-spec.lookback :]:
            other = self._content_tokens(prior)
            if len(other) < spec.min_tokens:
                continue
            best = max(best, _dice(token_set, set(other)), _dice(grams, _trigrams(other)))
        return round(best, 4)

    def trend(self, values: Sequence[float]) -> tuple[Trend, float]:
        """Trend of the last ``window`` frustration values: a fitted slope outside the dead band, made of
        enough steps in its direction (a single outlier is not a trend)."""
        cfg = self.config.trend
        window = list(values)[-cfg.window :]
        slope = round(least_squares_slope(window), 4)
        if len(window) < cfg.min_points:
            return "steady", slope
        steps = [b - a for a, b in pairwise(window)]
        ups = sum(1 for step in steps if step > cfg.move_epsilon)
        downs = sum(1 for step in steps if step < -cfg.move_epsilon)
        if slope > cfg.dead_band and ups >= cfg.min_moves:
            return "rising", slope
        if slope < -cfg.dead_band and downs >= cfg.min_moves:
            return "falling", slope
        return "steady", slope

    # ------------------------------------------------------------------ signals

    @staticmethod
    def _carried(
        previous: SentimentState | None, kept: Sequence[SentimentTurn], *, rescoring: bool
    ) -> tuple[float, float]:
        """(frustration, urgency) the turn starts from; re-scoring a turn starts from the turn before it."""
        if previous is None:
            return 0.0, 0.0
        if rescoring:
            return (kept[-1]["frustration"], kept[-1]["urgency"]) if kept else (0.0, 0.0)
        return previous["frustration"], previous["urgency"]

    def _learned_weight(self, text: str, context: TurnContext) -> tuple[Weight, bool]:
        """(the channel's weight in the label's noisy-OR, whether the first-message model vetoes ``negative``)."""
        spec = self.config.learned
        model = self._learned if context.bot_spoke or self._first is None else self._first
        if model is None or any(name in spec.off_for for name in context.classes):
            return 0.0, False
        weight, floor = spec.calibration(bot_spoke=context.bot_spoke)
        if weight <= 0:
            return 0.0, False
        p = model.score(text, context)
        if model is self._first:
            vetoed = p < spec.first_veto
        else:
            vetoed = context.bot_spoke and not context.markers and p < spec.veto
        return weight * max(0.0, (p - floor) / (1.0 - floor)), vetoed

    def _valence(self, score: float) -> Weight:
        spec = self.config.valence
        negativity = (-score - spec.floor) / (1.0 - spec.floor)
        lean = spec.lean * (1.0 - score) / 2.0
        if negativity <= 0:
            return lean
        return min(1.0, spec.weight * min(1.0, negativity) ** spec.exponent + lean)

    def _markers(
        self,
        text: str,
        lowered: str,
        *,
        score: float,
        prior_user_texts: Sequence[str],
        last_bot_action: str | None,
        failures: int,
        mobile: bool,
        extra: dict[str, Weight],
        suppressed: set[str],
    ) -> tuple[list[str], list[Weight]]:
        spec = self.config.markers
        found: dict[str, Weight] = dict(extra)
        if prior_user_texts and self.restated(text, prior_user_texts):
            found[RESTATED] = spec.restated.weight
        nth = any(p.search(lowered) for p in spec.nth_time.compiled)
        if nth:
            found[NTH_TIME] = spec.nth_time.weight
        elif any(p.search(lowered) for p in spec.again.compiled):
            found[AGAIN] = spec.again.weight
        if score < self.config.intensifier_max_compound:
            if self._shouting(text):
                found[CAPS] = spec.caps.weight
            if self._punct.search(text):
                found[PUNCTUATION] = spec.punctuation.weight
        for code, marker in (
            (PROFANITY, spec.profanity),
            (BOT_NEGATIVE, spec.bot_negative),
            (EXASPERATION, spec.exasperation),
            (CANCEL_THREAT, spec.cancel_threat),
            (DISTRESS, spec.distress),
        ):
            if any(p.search(lowered) for p in marker.compiled):
                found[code] = marker.weight
        terse = spec.terse_after_failure
        weight = terse.weight * (terse.mobile_factor if mobile else 1.0)
        if (
            failures > 0
            and weight > 0
            and last_bot_action not in terse.ignore_after_actions
            and score <= terse.max_compound
            and self._is_terse(text)
            and not (terse.ignore_data and _DATA_TOKEN.search(text))
            and not any(p.search(lowered) for p in self._acknowledgements)
            and not any(p.search(lowered) for p in terse.compiled_questions)
        ):
            found[TERSE_AFTER_FAILURE] = weight
        codes = [code for code in MARKER_CODES if code in found and code not in suppressed]
        # "That's not what I asked" is one piece of evidence, whether read as a correction, negative feedback or
        # a restatement: the correction adds no weight of its own next to the other two.
        weights = [
            0.0 if code == CORRECTION and (BOT_NEGATIVE in codes or RESTATED in codes) else found[code]
            for code in codes
        ]
        return codes, weights

    def _shouting(self, text: str) -> bool:
        spec = self.config.markers.caps
        words = [w.strip("'") for w in _RAW_WORD.findall(text)]
        shouted = [
            w
            for w in words
            if len(w) >= 2 and w.isupper() and w not in self._acronyms and w.rstrip("S") not in self._acronyms
        ]
        return any(len(w) >= spec.min_length for w in shouted) or len(shouted) >= spec.min_words

    def _is_terse(self, text: str) -> bool:
        return 0 < len(text.split()) <= self.config.markers.terse_after_failure.max_words

    def _is_mobile(self, channel: str | None, device: str | None) -> bool:
        terse = self.config.markers.terse_after_failure
        return (channel or "").lower() in terse.mobile_channels or (
            device or ""
        ).lower() in terse.mobile_devices

    def _content_tokens(self, text: str) -> list[str]:
        lowered = _normalize(text)
        for pattern, replacement in _CONTRACTIONS:
            lowered = pattern.sub(replacement, lowered)
        tokens: list[str] = []
        seen: set[str] = set()
        for raw in _WORD.findall(lowered[: self.config.limits.max_chars]):
            word = self._synonyms.get(raw, raw)
            if word in self._ignore:
                continue
            word = _stem(word)
            word = self._synonyms.get(word, word)
            if word not in self._ignore and word not in seen:
                seen.add(word)
                tokens.append(word)
        return tokens

    def _event_pressure(
        self, events: Sequence[Event], *, turn: int, now: datetime | None
    ) -> tuple[float, float]:
        """(frustration, urgency) from behavioural events, decayed by age; repeats of one type escalate."""
        cfg = self.config.events
        by_type: dict[str, list[float]] = {}
        for event in events:
            kind = str(event.get("type", "")).strip().lower()
            kind = cfg.aliases.get(kind, kind)
            if kind not in self._events:
                continue
            by_type.setdefault(kind, []).append(self._age_factor(event, turn=turn, now=now))
        frustration: list[float] = []
        urgency: list[float] = []
        for kind, factors in sorted(by_type.items()):
            spec = self._events[kind]
            for rank, factor in enumerate(sorted(factors, reverse=True)):
                boost = 1.0 + cfg.repeat_boost * rank
                frustration.append(min(0.95, spec.frustration * boost) * factor)
                urgency.append(min(0.95, spec.urgency * boost) * factor)
        return min(cfg.max_frustration, _noisy_or(frustration)), _noisy_or(urgency)

    def _age_factor(self, event: Event, *, turn: int, now: datetime | None) -> float:
        cfg = self.config.events
        detail = event.get("detail") or {}
        arrived = detail.get("turn")
        if isinstance(arrived, int) and not isinstance(arrived, bool):
            return float(cfg.decay_per_turn ** max(0, turn - arrived))
        if now is not None:
            at = _parse_time(event.get("at"))
            if at is not None:
                minutes = max(0.0, (now - at).total_seconds() / 60.0)
                return math.pow(0.5, minutes / cfg.half_life_minutes)
        return 1.0

    def _label(
        self, score: float, frustration: float, *, dissatisfaction: float, distressed: bool, vetoed: bool = False
    ) -> Label:
        """``dissatisfaction`` is frustration with the learned channel folded in: it can make a turn ``negative``
        (or keep it from ``positive``), never ``frustrated``, so it moves no handoff rule. ``vetoed``: the
        first-message model rates an opening message clearly not negative, so its valence alone does not flag it."""
        cfg = self.config.labels
        if distressed:
            return "distressed"
        if frustration >= cfg.frustrated:
            return "frustrated"
        # Relief ("found it, thank you!") reads as positive while some earlier frustration is still fading.
        if score >= cfg.positive_score and dissatisfaction < cfg.positive_max_frustration:
            return "positive"
        if vetoed:
            return "calm"
        if dissatisfaction >= cfg.negative or score <= cfg.negative_score:
            return "negative"
        return "calm"
