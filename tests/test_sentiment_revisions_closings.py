"""Fifth round of issue 15: three classes read from the customer's reply to the bot.

- An apologetic revision ("sorry, make it the 14th instead") corrects what the bot took down, as "no, the 14th" does;
  a courtesy ("sorry to bother you, I need …") or a change of mind is not a correction.
- A closing reply ("nothing else, thanks", "no, I don't have any other questions") ends the conversation: a decline,
  never negative on its words, and no failed bot turn.
- "I don't want that one" turns down what the bot offered (``wants_alternative``): mild, no failed bot turn.

Every case is written as a class of message, in our own words; none comes from a dataset.
"""

from __future__ import annotations

import pytest

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.agents.sentiment.node import failure_signals
from tactful.agents.state import SentimentState

FLAGGED = {"negative", "frustrated", "distressed"}


@pytest.fixture(scope="module")
def reasoner() -> SentimentReasoner:
    return SentimentReasoner(load_signal_config())


def after_bot(reasoner: SentimentReasoner, text: str, *, bot: str = "Here is what I found for you.") -> SentimentState:
    return reasoner.assess(
        text,
        turn=2,
        previous=None,
        prior_user_texts=["I'd like to move my delivery to Thursday morning."],
        events=[],
        last_bot_action="respond",
        failures=0,
        prior_bot_texts=[bot],
    )


@pytest.mark.parametrize(
    "text",
    [
        "Sorry, make it the afternoon instead.",
        "I'm sorry, I meant the 14th, not the 4th.",
        "Sorry, I need it for one person only.",
        "Sorry, could you change that to the business account?",
    ],
)
def test_an_apologetic_revision_is_a_soft_correction(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text)
    assert "correction" in state["markers"]
    assert state["label"] == "negative"  # read, but not frustrated: an apology is no anger
    assert failure_signals(state["markers"], last_action="respond") == ["correction"]


@pytest.mark.parametrize(
    "text",
    [
        "Sorry to bother you, I need to change my card instead of the old one.",
        "Sorry, I've changed my mind, make it Friday instead.",
        "Sorry, one more question: can I pay monthly?",
    ],
)
def test_a_courtesy_or_a_change_of_mind_is_not_a_correction(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text)
    assert "correction" not in state["markers"]


def test_an_apologetic_revision_needs_the_bot_to_have_spoken(reasoner: SentimentReasoner) -> None:
    state = reasoner.assess("Sorry, make it the afternoon instead.", turn=1, previous=None, prior_user_texts=[],
                            events=[], last_bot_action=None, failures=0)
    assert "correction" not in state["markers"]


@pytest.mark.parametrize(
    "text",
    [
        "Nothing else, thanks.",
        "Nothing more.",
        "No, I don't have any other questions.",
        "No, that's fine.",
        "No issues, thank you.",
        "No, not for today.",
    ],
)
def test_a_closing_reply_is_a_calm_decline(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text, bot="Is there anything else I can help you with?")
    assert state["label"] not in FLAGGED
    assert failure_signals(state["markers"], last_action="respond") == []


@pytest.mark.parametrize(
    "text",
    [
        "Nothing works, the page is still blank.",
        "No, I don't have any access, it still says denied.",
        "No, that's not fine at all, it's the wrong address.",
    ],
)
def test_a_reply_that_reports_a_failure_is_not_a_closing(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text, bot="Did that fix it?")
    assert state["label"] in FLAGGED


@pytest.mark.parametrize("text", ["I don't want that one, find me another.", "No, I don't want this one."])
def test_turning_down_the_offered_option_wants_an_alternative(reasoner: SentimentReasoner, text: str) -> None:
    state = after_bot(reasoner, text, bot="I found a slot on Tuesday at 9 am.")
    assert "wants_alternative" in state["markers"]
    assert state["label"] == "negative"
    assert failure_signals(state["markers"], last_action="respond") == []
