"""Issue 13: the support graph knows what it doesn't know. Out-of-scope messages get an answer, a high-risk guess
gets one question, a question about the bot is answered, follow-ups stay on the issue, pasted content is data,
and the taxonomy is broad. Every message here is a class example written for these tests."""

from __future__ import annotations

import pytest

from tactful.agents.intent.background import Background, load_background, usable_background
from tactful.graphs.runner import TurnResult
from tests.support_helpers import new_runner, shared_context


async def converse(lines: list[str], cid: str = "scope") -> list[TurnResult]:
    runner = new_runner()
    return [await runner.turn(cid, line) for line in lines]


def _handed_off(r: TurnResult) -> bool:
    return r.action == "escalate" or r.mode == "human"


# ----------------------------------------------------------------------------------------- out of scope


def test_background_examples_close_to_the_data_are_left_out() -> None:
    background = Background(examples=["book a hotel room in rome", "what is the capital of peru"])
    kept = usable_background(background, ["book a hotel room in rome for two nights", "reset my password"])
    assert kept == ["what is the capital of peru"]


def test_the_shipped_background_is_broad() -> None:
    assert len(load_background().examples) >= 100


@pytest.mark.parametrize(
    "text",
    [
        "will it be sunny in oslo on friday",
        "find me a table for two at a thai restaurant",
        "book me a train to amsterdam",
        "how long should I roast a chicken",
        "play the new album by that band",
    ],
)
async def test_everyday_requests_outside_support_are_answered_without_a_handoff(text: str) -> None:
    (r,) = await converse([text])
    assert not _handed_off(r)
    assert r.action in {"respond", "clarify", "assist"}
    assert r.intent is not None and r.intent["risk"] != "high"


async def test_an_out_of_scope_answer_says_what_the_bot_covers() -> None:
    (r,) = await converse(["who wrote the novel about the white whale"])
    assert r.intent is not None and r.intent["out_of_scope"]
    assert r.action == "respond" and r.reply
    assert all(area in r.reply for area in ("billing", "privacy", "API"))  # the broader taxonomy's areas


# ----------------------------------------------------------------------------------------- risk x confidence


async def test_a_high_risk_guess_asks_one_question_but_a_sure_dispute_hands_off() -> None:
    # a bill that went up: could be a dispute, a plan change or a question; the bot asks, it does not hand off
    (guess,) = await converse(["my monthly amount is different from last month"], cid="guess")
    assert not _handed_off(guess)
    (sure,) = await converse(["you charged me twice for the same invoice, I dispute the second charge"], cid="sure")
    assert _handed_off(sure)


# ----------------------------------------------------------------------------------------- word sense


@pytest.mark.parametrize(
    "text",
    [
        "I'd rather speak with one of your operators",
        "can I get a live agent on this",
        "is there a human being I could talk to",
        "please transfer my chat to a staff member",
        "I want someone from your team, not a program",
    ],
)
async def test_a_request_for_a_person_in_other_words_hands_off(text: str) -> None:
    (r,) = await converse([text])
    assert _handed_off(r)


async def test_asking_whether_the_bot_is_a_person_gets_an_honest_answer_and_an_offer() -> None:
    (r,) = await converse(["wait, am I chatting with a real person?"])
    assert not _handed_off(r)
    assert r.reply and "automated" in r.reply.lower() and "agent" in r.reply.lower()


@pytest.mark.parametrize(
    "text",
    ["my colleague sue set up our account, can she get admin rights", "can I see my location on the map view"],
)
async def test_a_name_or_a_map_is_not_a_sensitive_topic(text: str) -> None:
    (r,) = await converse([text])
    assert not any(g["tripped"] and g["guard"] == "sensitive_topic" for g in r.guards)


async def test_the_name_sue_is_not_legal_but_a_threat_to_sue_is() -> None:
    (name,) = await converse(["could I just call you sue from now on"], cid="name")
    assert not _handed_off(name)
    (threat,) = await converse(["if this isn't fixed we are going to sue your company"], cid="threat")
    assert _handed_off(threat) and threat.handoff is not None and threat.handoff["queue"] == "legal"


# ----------------------------------------------------------------------------------------- follow-ups


@pytest.mark.parametrize(
    "follow_up", ["it failed again", "still does not work", "same error as before", "that didn't help"]
)
async def test_a_short_follow_up_stays_on_the_issue_under_way(follow_up: str) -> None:
    results = await converse(["my two-factor code is rejected every time I sign in", follow_up])
    first, second = results
    assert first.intent is not None and first.intent["label"] == "mfa_failure"
    assert second.intent is not None and second.intent["label"] == "mfa_failure"
    assert second.intent["source"] == "carried"


async def test_follow_ups_count_attempts_and_repeated_failure_hands_off() -> None:
    results = await converse(
        ["my two-factor code is rejected every time I sign in", "it failed again", "still not working"]
    )
    assert _handed_off(results[-1])
    assert results[-1].handoff is not None and results[-1].handoff["queue"] == "account_access"


# ----------------------------------------------------------------------------------------- pasted content


async def test_a_pasted_billing_email_is_a_billing_question_not_a_dispute() -> None:
    text = (
        "Here is the email I got:\n\n"
        "From: Accounts <accounts@vendor.example>\n"
        "Subject: Payment received\n"
        "Hello, we charged 49.00 to your card for the Team plan. If you did not authorise this payment or want to "
        "dispute it, reply to this message.\n\n"
        "What is this charge for?"
    )
    (r,) = await converse([text])
    assert not _handed_off(r)
    assert r.intent is not None and r.intent["risk"] == "low"


# ----------------------------------------------------------------------------------------- taxonomy


def test_the_default_taxonomy_is_broad_and_every_intent_is_complete() -> None:
    ctx = shared_context()
    intents = ctx.bundle.taxonomy.intents
    assert len(intents) >= 30
    for spec in intents:
        assert spec.queue and spec.risk and spec.next_steps, spec.name
        assert spec.name in ctx.templates.answers, spec.name


async def test_a_complaint_is_acknowledged_and_goes_to_customer_care_not_legal() -> None:
    (r,) = await converse(["I would like to make a formal complaint about how my ticket was handled"])
    assert _handed_off(r)
    assert r.handoff is not None and r.handoff["queue"] == "customer_care"
