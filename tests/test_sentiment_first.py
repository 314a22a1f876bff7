"""The first-message model: an opening message is one comment, read for negative emotion of every kind (sadness,
remorse, worry as well as anger), and a plain request whose words merely sound negative is not flagged."""

from __future__ import annotations

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tests.sentiment_helpers import FixedModel

FLAGGED = {"negative", "frustrated", "distressed"}


def _opening(reasoner: SentimentReasoner, text: str) -> tuple[str, float]:
    state = reasoner.assess(
        text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
    )
    return state["label"], state["frustration"]


def _with_first(p: float) -> SentimentReasoner:
    config = load_signal_config()
    main = config.learned_model()
    assert main is not None
    return SentimentReasoner(config, learned=main, first=FixedModel(p=p))


def test_the_shipped_signals_name_a_first_message_model_fitted_on_the_broad_negative_group() -> None:
    config = load_signal_config()
    model = config.first_learned_model()
    assert model is not None and model is not config.learned_model()
    assert model.info["group"] == "broad"
    assert 0 < config.learned.first_veto < 1


def test_quiet_sadness_and_remorse_in_an_opening_message_read_negative() -> None:
    """Non-anger negativity with few negative words: the rules alone stay under the negative threshold."""
    reasoner = SentimentReasoner(load_signal_config())
    threshold = reasoner.config.labels.negative
    for text in (
        "I wish I had never moved here, nothing feels like home anymore",
        "I'm so sorry, I should have listened to you",
    ):
        label, frustration = _opening(reasoner, text)
        assert frustration < threshold, text
        assert label == "negative", text


def test_a_plain_request_with_a_worrying_word_is_not_flagged_as_an_opening_message() -> None:
    """ "stolen", "cancel": VADER reads them as negative, but the customer is asking, not complaining."""
    reasoner = SentimentReasoner(load_signal_config())
    for text in ("What happens if my card gets stolen?", "Can I cancel a payment that is pending?"):
        label, frustration = _opening(reasoner, text)
        assert frustration >= reasoner.config.labels.negative, text  # the valence alone would flag it
        assert label == "calm", text


def test_the_veto_reads_only_the_valence_never_frustration_or_distress() -> None:
    calm_model = _with_first(0.0)
    assert _opening(calm_model, "this is the worst service ever, absolutely useless!!")[0] == "frustrated"
    assert _opening(calm_model, "I just lost my job and can't afford the rent")[0] == "distressed"
    assert _opening(calm_model, "What happens if my card gets stolen?")[0] == "calm"
    assert _opening(_with_first(0.99), "What happens if my card gets stolen?")[0] == "negative"


def test_the_first_message_model_moves_no_frustration_and_does_not_read_replies() -> None:
    text = "and what about the one from April"
    low, high = _with_first(0.0), _with_first(0.99)
    assert _opening(low, text)[1] == _opening(high, text)[1]
    reply = {
        "turn": 2,
        "previous": None,
        "prior_user_texts": ["book a table"],
        "events": [],
        "last_bot_action": "respond",
        "failures": 0,
        "prior_bot_texts": ["Booked for Friday."],
    }
    assert low.assess(text, **reply)["label"] == high.assess(text, **reply)["label"]  # type: ignore[arg-type]


def test_excitement_and_happy_capitals_stay_unflagged_as_opening_messages() -> None:
    reasoner = SentimentReasoner(load_signal_config())
    for text in ("holy shit this update is incredible", "WE GOT THE HOUSE, THANK YOU SO MUCH"):
        assert _opening(reasoner, text)[0] not in FLAGGED, text
