"""Issue 13, offline leftovers, by class: a calm report that counts the customer's own attempts at the product
("tried it four times", "it keeps crashing") is a stubborn problem to fix, not a handoff for frustration, while
counting appeals to us ("the third time I'm writing") still weighs. Every message here is written for these tests,
not a dataset row."""

from __future__ import annotations

import pytest

from tactful.agents.sentiment.model import SentimentReasoner
from tactful.graphs.runner import TurnResult
from tests.support_helpers import new_runner, shared_context


def _handed_off(r: TurnResult) -> bool:
    return r.action == "escalate" or r.mode == "human"


async def _turn(text: str, cid: str) -> TurnResult:
    return await new_runner().turn(cid, text)


# ----------------------------------------------------------------------------------------- attempts, not appeals


@pytest.fixture(scope="module")
def reasoner() -> SentimentReasoner:
    return shared_context().offline.reasoner


def _frustration(reasoner: SentimentReasoner, text: str) -> float:
    state = reasoner.assess(
        text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
    )
    return state["frustration"]


@pytest.mark.parametrize(
    "text",
    [
        "I've tried four times to connect the calendar and it keeps failing",
        "the importer keeps crashing, I retried it several times",
        "attempted the bank link three times now and it still fails",
    ],
)
async def test_a_calm_report_of_repeated_attempts_is_helped_first(reasoner: SentimentReasoner, text: str) -> None:
    assert _frustration(reasoner, text) < 0.75  # frustration_high: a person at once
    result = await _turn(text, f"attempts:{text}")
    assert not _handed_off(result), result.decision


@pytest.mark.parametrize(
    ("attempts", "appeals"),
    [
        ("I tried the sync three times", "I have written to you three times about the sync"),
        ("the upload keeps failing", "the upload keeps failing and I keep asking you about it"),
    ],
)
def test_counting_appeals_to_us_weighs_more_than_counting_attempts(
    reasoner: SentimentReasoner, attempts: str, appeals: str
) -> None:
    assert _frustration(reasoner, appeals) > _frustration(reasoner, attempts) > 0.0


async def test_anger_on_top_of_the_attempts_still_hands_off() -> None:
    text = "I tried FIVE times, this is ridiculous, your useless app keeps crashing!!"
    result = await _turn(text, "attempts-angry")
    assert _handed_off(result), result.decision
