"""The sentiment reasoner's cost is linear in the message and bounded per turn.

Cost is counted, not timed: VADER's quadratic part is its negation and idiom checks, each of which re-reads the
whole token list it was given, so the work of a message is the sum, over those calls, of that list's length.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vaderSentiment import vaderSentiment as vs

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.agents.sentiment.valence import BoundedValence


class WorkCounter:
    def __init__(self) -> None:
        self.units = 0


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkCounter]:
    counter = WorkCounter()
    negation = vs.SentimentIntensityAnalyzer._negation_check
    idioms = vs.SentimentIntensityAnalyzer._special_idioms_check

    def counted_negation(valence: float, words: list[str], start_i: int, i: int) -> float:
        counter.units += len(words)
        return float(negation(valence, words, start_i, i))

    def counted_idioms(valence: float, words: list[str], i: int) -> float:
        counter.units += len(words)
        return float(idioms(valence, words, i))

    monkeypatch.setattr(vs.SentimentIntensityAnalyzer, "_negation_check", staticmethod(counted_negation))
    monkeypatch.setattr(vs.SentimentIntensityAnalyzer, "_special_idioms_check", staticmethod(counted_idioms))
    yield counter


@pytest.fixture(scope="module")
def reasoner() -> SentimentReasoner:
    return SentimentReasoner(load_signal_config())


def _cost(reasoner: SentimentReasoner, work: WorkCounter, text: str) -> int:
    work.units = 0
    reasoner.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0)
    return work.units


@pytest.mark.parametrize(
    "unit",
    [
        "\U0001f638",  # an emoji that VADER spells out as six words, several of them in its lexicon
        "this is a terrible, awful day. ",
        "great help, thanks! but the app still crashes. ",
    ],
)
def test_cost_grows_linearly_with_the_message(
    reasoner: SentimentReasoner, work: WorkCounter, unit: str
) -> None:
    small = _cost(reasoner, work, unit * 20)
    four_times = _cost(reasoner, work, unit * 80)
    assert small > 0
    # Quadratic work would grow 16-fold; linear work about 4-fold (segment edges allow some slack).
    assert four_times <= 6 * small


def test_cost_is_bounded_per_turn(reasoner: SentimentReasoner, work: WorkCounter) -> None:
    bounded = _cost(reasoner, work, "\U0001f638" * 4000)
    assert bounded > 0
    assert _cost(reasoner, work, "\U0001f638" * 40000) == bounded
    assert _cost(reasoner, work, "awful service. " * 4000) == _cost(reasoner, work, "awful service. " * 40000)


def test_a_message_within_one_window_reads_exactly_as_vader(reasoner: SentimentReasoner) -> None:
    vader = vs.SentimentIntensityAnalyzer()
    for text in ("That fixed it, thank you so much!", "NO! This is not what I asked \U0001f620", "ok"):
        state = reasoner.assess(
            text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
        )
        assert state["score"] == round(vader.polarity_scores(text)["compound"], 4)


def test_segments_keep_the_sign_of_a_long_message() -> None:
    valence = BoundedValence(window_words=10, max_words=200)
    assert valence.compound("The app crashed again and I lost my work. " * 10) < -0.5
    assert valence.compound("Lovely, everything works and support was great. " * 10) > 0.5
    assert all(len(seg) <= 10 for seg in valence.segments(valence.words("word " * 95)))
    assert len(valence.words("\U0001f638" * 500)) == 200
