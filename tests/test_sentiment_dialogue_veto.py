"""The dialogue model's veto: once the bot has spoken, a reply that the dialogue model rates clearly calm does not
read ``negative`` on its valence alone (a plain question about a stop, a fee or a title with a gloomy word in it),
while markers, ``frustrated``, ``distressed`` and events stay the rules'."""

from __future__ import annotations

from typing import Any

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.agents.state import Event, SentimentState
from tests.sentiment_helpers import FixedModel

# Plain questions after an answer, each with a word VADER reads as negative: the valence alone would flag them.
QUESTIONS = (
    "Does the train stop in Denver, and is there a fee for luggage?",
    "Which cinema is showing The Lonely Hours tonight?",
)


def _reasoner(p: float) -> SentimentReasoner:
    config = load_signal_config()
    return SentimentReasoner(config, learned=FixedModel(p=p), first=config.first_learned_model())


def _reply(reasoner: SentimentReasoner, text: str, **overrides: Any) -> SentimentState:
    kwargs: dict[str, Any] = {
        "turn": 3,
        "previous": None,
        "prior_user_texts": ["find me a train", "to Denver on Friday"],
        "events": [],
        "last_bot_action": "respond",
        "failures": 0,
        "prior_bot_texts": ["Which city are you going to?", "I found three trains on Friday."],
    }
    kwargs.update(overrides)
    return reasoner.assess(text, **kwargs)


def test_the_shipped_signals_set_a_dialogue_veto_no_higher_than_the_channel_floor() -> None:
    learned = load_signal_config().learned
    assert 0 < learned.veto <= learned.floor  # below the floor the channel adds nothing, and the veto takes the rest


def test_a_plain_question_with_a_gloomy_word_reads_calm_when_the_dialogue_model_rates_it_calm() -> None:
    veto = load_signal_config().learned.veto
    below, above = _reasoner(veto - 0.05), _reasoner(veto + 0.05)
    for text in QUESTIONS:
        vetoed, kept = _reply(below, text), _reply(above, text)
        assert kept["frustration"] >= below.config.labels.negative, text  # the valence alone flags it
        assert kept["label"] == "negative", text
        assert vetoed["label"] == "calm", text
        assert vetoed["frustration"] == kept["frustration"], text  # the veto moves no frustration


def test_the_veto_leaves_markers_frustration_and_distress_alone() -> None:
    calm_model = _reasoner(0.0)
    correction = _reply(calm_model, "no, I said the 14th")
    assert "correction" in correction["markers"] and correction["label"] == "negative"
    assert _reply(calm_model, "this is useless, it still doesn't work")["label"] == "frustrated"
    assert _reply(calm_model, "I just lost my job and can't afford this")["label"] == "distressed"


def test_the_veto_does_not_overrule_an_event() -> None:
    event: Event = {"type": "failed_payment", "at": "2025-03-01T10:00:00Z", "detail": {"turn": 3}}
    state = _reply(_reasoner(0.0), QUESTIONS[0], events=[event])
    assert state["label"] in {"negative", "frustrated"}


def test_the_veto_does_not_read_an_opening_message() -> None:
    """Before the bot has spoken the first-message model and its own veto decide: the dialogue model's rating of
    the message changes nothing."""
    opening: dict[str, Any] = {"turn": 1, "prior_user_texts": [], "last_bot_action": None, "prior_bot_texts": []}
    text = "Does the train stop in Denver? There is a fee, I suppose."
    assert _reply(_reasoner(0.0), text, **opening)["label"] == _reply(_reasoner(0.99), text, **opening)["label"]
