"""The dialogue channel and the meaning classes: dissatisfaction without angry words, angry words without anger.

Every case is written as a class of message, in our own words; none comes from a dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.agents.sentiment.node import failure_signals
from tactful.agents.state import SentimentState

FLAGGED = {"negative", "frustrated", "distressed"}


@pytest.fixture(scope="module")
def reasoner() -> SentimentReasoner:
    return SentimentReasoner(load_signal_config())


def after_bot(
    reasoner: SentimentReasoner,
    text: str,
    *,
    bot: Sequence[str] = ("Here is what I found for you.",),
    prior: Sequence[str] = ("I need to change my delivery slot.",),
    action: str | None = "respond",
) -> SentimentState:
    return reasoner.assess(
        text,
        turn=len(prior) + 1,
        previous=None,
        prior_user_texts=list(prior),
        events=[],
        last_bot_action=action,
        failures=0,
        prior_bot_texts=list(bot),
    )


# ---------------------------------------------------------------------- dissatisfaction without angry words


@pytest.mark.parametrize(
    "text",
    [
        "No, I told you Thursday, not Tuesday.",
        "That's not what I asked for. I asked about the invoice from May.",
        "Did you not read my message? The parcel went to the old address.",
        "Wrong again, the account is the business one.",
        "You misunderstood, I want to keep the plan and change the card.",
        "Nope, it should be two seats, not four.",
    ],
)
def test_a_correction_of_what_the_bot_understood_is_read(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text)
    assert "correction" in state["markers"]
    assert state["label"] in FLAGGED
    assert failure_signals(state["markers"], last_action="respond")


def test_a_correction_needs_the_bot_to_have_spoken(reasoner: SentimentReasoner) -> None:
    state = reasoner.assess(
        "No, 2 rooms please.", turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
    )
    assert "correction" not in state["markers"]


@pytest.mark.parametrize(
    "text", ["Ugh. Anything else near the station?", "Nope, something else.", "Search again please"]
)
def test_a_short_rejection_of_the_answer_is_read(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text)
    assert "rejected_answer" in state["markers"]
    assert state["label"] in FLAGGED


@pytest.mark.parametrize(
    "text",
    [
        "Four emails and still no reply. Great service, really.",
        "Brilliant work, the export is broken again.",
        "Thanks for nothing.",
    ],
)
def test_praise_of_a_failure_reads_as_its_opposite(reasoner: SentimentReasoner, text: str) -> None:
    state = reasoner.assess(
        text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
    )
    assert "sarcasm" in state["markers"]
    assert state["label"] in FLAGGED
    assert state["score"] <= 0


def test_praise_without_a_failure_is_praise(reasoner: SentimentReasoner) -> None:
    state = after_bot(reasoner, "Great job, the export works perfectly now!")
    assert "sarcasm" not in state["markers"]
    assert state["label"] == "positive"


def test_the_same_value_given_again_is_read(reasoner: SentimentReasoner) -> None:
    state = after_bot(reasoner, "The pickup is at 08:15. 08:15, please.", prior=["Pickup at 08:15 tomorrow."])
    assert "repeated_value" in state["markers"]


def test_the_bot_asking_the_same_question_twice_is_read(reasoner: SentimentReasoner) -> None:
    bot = ["Which account is this about, personal or business?", "Which account is this about: personal or business?"]
    state = after_bot(reasoner, "business", bot=bot, action="clarify")
    assert "question_repeated" in state["markers"]
    once = after_bot(
        reasoner, "business", bot=["Thanks.", "Which account is this about, personal or business?"], action="clarify"
    )
    assert "question_repeated" not in once["markers"]


# ---------------------------------------------------------------------- angry-looking words, no anger


@pytest.mark.parametrize(
    "text",
    [
        "damn, that dog can really run",
        "holy crap that was quick, thanks",
        "your support is insanely fast",
        "that update is stupid good",
    ],
)
def test_excitement_is_not_frustration(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text)
    assert "profanity" not in state["markers"]
    assert state["label"] not in FLAGGED


@pytest.mark.parametrize("text", ["damn, it still won't sync", "this crazy app crashed again", "fucking useless"])
def test_the_same_words_with_a_failure_stay_angry(reasoner: SentimentReasoner, text: str) -> None:
    assert after_bot(reasoner, text)["label"] in FLAGGED


@pytest.mark.parametrize(
    ("text", "bot"),
    [
        ("I don't mind which colour.", "Which colour would you like?"),
        ("Any day next week is fine.", "Which day suits you?"),
        ("I don't care.", "Do you have a preferred seat?"),
        ("Doesn't matter to me, whatever you suggest.", "Window or aisle?"),
    ],
)
def test_indifference_about_an_option_is_an_answer(reasoner: SentimentReasoner, text: str, bot: str) -> None:
    state = after_bot(reasoner, text, bot=[bot], action="clarify")
    assert "exasperation" not in state["markers"]
    assert state["label"] not in FLAGGED


def test_a_bare_i_dont_care_that_answers_no_question_is_still_read(reasoner: SentimentReasoner) -> None:
    state = after_bot(reasoner, "I don't care.", bot=["Your refund was declined by the bank."])
    assert state["label"] in FLAGGED


@pytest.mark.parametrize(
    "text", ["YES!!! IT WORKS NOW", "FINALLY!!! IT WORKS", "OMG IT WORKS NOW", "WOW, LOVE THE NEW LOOK"]
)
def test_happy_capitals_are_not_shouting(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text)
    assert "caps" not in state["markers"]
    assert state["label"] not in FLAGGED


def test_angry_capitals_are_still_shouting(reasoner: SentimentReasoner) -> None:
    assert "caps" in after_bot(reasoner, "WHY IS MY ACCOUNT STILL LOCKED")["markers"]


@pytest.mark.parametrize("text", ["No thanks.", "No, that's all for today.", "Not right now."])
def test_a_polite_decline_is_calm(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text, bot=["Would you like me to set a reminder?"], action="clarify")
    assert state["label"] not in FLAGGED


@pytest.mark.parametrize(
    "text", ["Could you try again for Thursday at 6 in the evening?", "try it again with three people", "try again"]
)
def test_asking_for_a_retry_is_steering_not_a_correction(reasoner: SentimentReasoner, text: str) -> None:
    """A retry asked for (with or without a new detail) is a failed bot turn, counted, but no unhappy customer."""
    state = after_bot(reasoner, text)
    assert not {"correction", "rejected_answer"} & set(state["markers"])
    assert failure_signals(state["markers"], last_action="respond")
    assert state["frustration"] < reasoner.config.labels.negative


def test_a_retry_after_a_no_is_still_a_correction(reasoner: SentimentReasoner) -> None:
    state = after_bot(reasoner, "Nope, try again.")
    assert "correction" in state["markers"]
