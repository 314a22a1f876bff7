"""Meaning classes added for issue 15: words that look like grief, hurry, curtness or exasperation and are not.

Every case is written as a class of message, in our own words; none comes from a dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.agents.state import SentimentState

FLAGGED = {"negative", "frustrated", "distressed"}


@pytest.fixture(scope="module")
def reasoner() -> SentimentReasoner:
    return SentimentReasoner(load_signal_config())


def turn(
    reasoner: SentimentReasoner,
    text: str,
    *,
    failures: int = 0,
    action: str | None = "respond",
    bot: Sequence[str] = ("Here is what I found for you.",),
) -> SentimentState:
    return reasoner.assess(
        text,
        turn=2,
        previous=None,
        prior_user_texts=["I need help with my account settings."],
        events=[],
        last_bot_action=action,
        failures=failures,
        prior_bot_texts=list(bot),
    )


@pytest.mark.parametrize(
    "text",
    [
        "please play Mourning Becomes Electra on the speaker",
        "can you find the film Dead Man's Shoes for tonight",
        "rename the dashboard called Furious Growth Plan",
        'share the folder "Grief and Loss Resources" with HR',
    ],
)
def test_grief_or_anger_words_inside_a_title_are_no_cue(reasoner: SentimentReasoner, text: str) -> None:
    state = turn(reasoner, text, action=None, bot=())
    assert state["label"] not in FLAGGED
    assert "distress" not in state["markers"]


def test_grief_outside_a_title_still_reads_as_distress(reasoner: SentimentReasoner) -> None:
    state = turn(reasoner, "my husband passed away and I need to close his account", action=None, bot=())
    assert state["label"] == "distressed"


@pytest.mark.parametrize(
    "text",
    ["not right now, maybe after the weekend", "no rush at all, whenever suits you", "wow, that was quick"],
)
def test_time_words_that_say_there_is_no_hurry_are_not_hurry(reasoner: SentimentReasoner, text: str) -> None:
    state = turn(reasoner, text)
    assert not state["hurried"]
    assert state["urgency"] < 0.5
    assert state["label"] not in FLAGGED


def test_a_real_hurry_is_still_read(reasoner: SentimentReasoner) -> None:
    assert turn(reasoner, "I need this sorted right now, my shift starts soon")["hurried"]


@pytest.mark.parametrize("text", ["which page?", "what time?", "where exactly?", "is it free?"])
def test_a_short_question_after_a_failure_is_not_curt(reasoner: SentimentReasoner, text: str) -> None:
    state = turn(reasoner, text, failures=1)
    assert "terse_after_failure" not in state["markers"]
    assert state["label"] not in FLAGGED


def test_a_short_snap_after_a_failure_is_still_curt(reasoner: SentimentReasoner) -> None:
    assert "terse_after_failure" in turn(reasoner, "whatever.", failures=1)["markers"]


@pytest.mark.parametrize(
    "text",
    [
        "I don't care about the colours, any of them is fine",
        "I really don't mind about the delivery dates",
        "I'm not bothered about the brand",
    ],
)
def test_not_caring_about_an_option_is_a_preference(reasoner: SentimentReasoner, text: str) -> None:
    state = turn(reasoner, text, action="clarify", bot=("Which one would you like?",))
    assert "exasperation" not in state["markers"]
    assert state["label"] not in FLAGGED


def test_not_caring_any_more_is_still_exasperation(reasoner: SentimentReasoner) -> None:
    state = turn(reasoner, "I don't care anymore, nothing you say works", failures=1)
    assert state["label"] in {"negative", "frustrated"}
