"""How much one piece of evidence says: asking again is a failed bot turn, not by itself an unhappy customer, and
the learned channel's shipped calibration (weight and floor chosen by cross-validation, docs/sentiment.md)."""

from __future__ import annotations

from tactful.agents.sentiment.model import LearnedChannel, SentimentReasoner, load_signal_config
from tactful.agents.sentiment.node import failure_signals
from tests.sentiment_helpers import FixedModel

EARLIER = ["I need the invoice for the March order sent to my email"]
BOT = ["Here is how to find invoices: Settings, Billing, History."]


def _assess(reasoner: SentimentReasoner, text: str) -> tuple[str, float, list[str]]:
    state = reasoner.assess(text, turn=2, previous=None, prior_user_texts=EARLIER, events=[],
                            last_bot_action="respond", failures=0, prior_bot_texts=BOT)
    return state["label"], state["frustration"], list(state["markers"])


def _rules_only() -> SentimentReasoner:
    config = load_signal_config()
    return SentimentReasoner(config.model_copy(update={"learned": LearnedChannel()}))


def test_asking_again_in_plain_words_is_a_failed_turn_but_not_on_its_own_negative() -> None:
    label, frustration, markers = _assess(_rules_only(), "please send the invoice for the March order to my email")
    assert "restated" in markers
    assert failure_signals(markers, last_action="respond") == ["restated"]  # the failure counter still sees it
    assert 0.15 <= frustration < load_signal_config().labels.negative
    assert label == "calm"


def test_asking_again_with_another_cue_still_reads_negative() -> None:
    label, _, markers = _assess(_rules_only(), "again: send the invoice for the March order to my email")
    assert {"restated", "again"} <= set(markers)
    assert label == "negative"


def _with_model(p: float) -> str:
    reasoner = SentimentReasoner(load_signal_config(), learned=FixedModel(p=p))
    return _assess(reasoner, "and what about the one from April")[0]


def test_the_shipped_channel_flags_a_turn_the_model_rates_three_in_four_and_not_one_at_even_odds() -> None:
    assert _with_model(0.75) == "negative"
    assert _with_model(0.5) == "calm"
    assert _with_model(0.1) == "calm"


def test_the_channel_moves_the_label_only_whatever_the_model_says() -> None:
    config = load_signal_config()
    text = "and what about the one from April"
    sure = SentimentReasoner(config, learned=FixedModel(p=0.99))
    assert _assess(sure, text)[1] == _assess(_rules_only(), text)[1]
    assert _assess(sure, text)[0] != "frustrated"


def test_a_first_message_is_read_by_its_own_model_not_by_the_dialogue_one() -> None:
    """Before the bot has said anything there is no conversation to be dissatisfied with: the dialogue model's
    rating flags a reply to the bot, while an opening message is read by the first-message model (a comment)."""
    reasoner = SentimentReasoner(load_signal_config(), learned=FixedModel(p=0.75), first=FixedModel(p=0.1))
    text = "and what about the one from April"
    opening = reasoner.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None,
                              failures=0)
    assert opening["label"] == "calm"
    assert _assess(reasoner, text)[0] == "negative"
    config = load_signal_config().learned
    assert config.calibration(bot_spoke=False) != config.calibration(bot_spoke=True)
