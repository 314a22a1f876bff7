"""Issue 13, offline leftovers, by class. A request to be helped in another language is not a request for a person
(it gets an honest answer and the offer of one); a calm report that counts the customer's own attempts at the
product ("tried it four times", "it keeps crashing") is a stubborn problem to fix, not a handoff for frustration,
while counting appeals to us ("the third time I'm writing") still weighs. Every message here is written for these
tests, not a dataset row."""

from __future__ import annotations

import pytest

from tactful.agents.sentiment.model import SentimentReasoner
from tactful.graphs.runner import TurnResult
from tests.support_helpers import new_runner, shared_context


def _handed_off(r: TurnResult) -> bool:
    return r.action == "escalate" or r.mode == "human"


async def _turn(text: str, cid: str) -> TurnResult:
    return await new_runner().turn(cid, text)


# ----------------------------------------------------------------------------------------- another language


@pytest.mark.parametrize(
    "text",
    [
        "could you chat with me in greek",
        "speak to me in swedish please",
        "can you write to me in czech",
    ],
)
async def test_a_request_for_another_language_gets_the_honest_answer_not_a_handoff(text: str) -> None:
    result = await _turn(text, f"lang:{text}")
    assert not _handed_off(result), result.decision
    assert result.intent is not None and result.intent["label"] == "language_request"
    assert result.reply is not None and "English" in result.reply and '"agent"' in result.reply


async def test_a_less_clear_language_request_is_answered_or_asked_about_never_handed_off() -> None:
    # "the answers in vietnamese" also reads as a how-to question: the bot may ask which, offering the language
    result = await _turn("can I get the answers in vietnamese", "lang-unclear")
    assert not _handed_off(result), result.decision
    assert result.reply is not None and ("English" in result.reply or "another language" in result.reply)


@pytest.mark.parametrize("text", ["do you know any romanian", "I'd feel easier writing in ukrainian"])
async def test_a_language_the_examples_never_name_is_at_worst_out_of_scope(text: str) -> None:
    # no word of it is in the intent's examples, so the evidence check keeps it a guess: never a handoff
    result = await _turn(text, f"lang-unknown:{text}")
    assert not _handed_off(result), result.decision


@pytest.mark.parametrize(
    "text", ["recommend a greek taverna near the station", "a swedish crime series for tonight", "czech beer prices"]
)
async def test_a_nationality_in_an_errand_is_no_language_request(text: str) -> None:
    result = await _turn(text, f"lang-errand:{text}")
    assert result.intent is not None and result.intent["label"] != "language_request"
    assert not _handed_off(result), result.decision


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to an agent who speaks greek",
        "put me through to a person, in swedish if possible",
        "I want a human who speaks vietnamese",
    ],
)
async def test_a_person_asked_for_in_another_language_still_hands_off(text: str) -> None:
    result = await _turn(text, f"lang-person:{text}")
    assert _handed_off(result), result.decision


async def test_asking_for_a_person_after_the_language_answer_hands_off() -> None:
    runner = new_runner()
    first = await runner.turn("lang-then-agent", "can you write to me in czech")
    assert not _handed_off(first)
    second = await runner.turn("lang-then-agent", "agent")
    assert _handed_off(second)


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
