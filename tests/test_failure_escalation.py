"""Failure-driven escalation: a customer the bot keeps failing is handed off on the turn it becomes clear, and the
packet says which turns failed. Calm corrections and polite answers do not hand anyone off."""

from __future__ import annotations

from tactful.graphs.runner import TurnResult
from tests.support_helpers import new_runner


async def converse(lines: list[str], cid: str) -> list[TurnResult]:
    runner = new_runner()
    return [await runner.turn(cid, line) for line in lines]


async def test_a_request_rejected_twice_hands_off_on_the_second_rejection() -> None:
    results = await converse(
        [
            "I want to change the delivery day of my order to Friday",
            "No, I said Friday, not Monday.",
            "That's wrong again. Friday.",
        ],
        cid="rejected-twice",
    )
    assert [r.mode for r in results[:2]] == ["bot", "bot"]
    assert results[2].action == "escalate"
    assert results[2].decision is not None and results[2].decision["reason"] == "repeated_failure"
    packet = results[2].handoff
    assert packet is not None
    failed = packet.get("failed_turns", [])
    assert [f["turn"] for f in failed] == [2, 3]
    assert all("correction" in f["signals"] for f in failed)


async def test_an_answer_that_did_not_help_after_a_correction_hands_off() -> None:
    results = await converse(
        [
            "how do I download last month's invoice",
            "That's not what I asked, I need the invoice for March",
            "that doesn't help at all",
        ],
        cid="did-not-help",
    )
    assert results[1].mode == "bot"
    assert results[2].action == "escalate"
    packet = results[2].handoff
    assert packet is not None
    assert [f["turn"] for f in packet.get("failed_turns", [])] == [2, 3]


async def test_a_calm_conversation_with_one_correction_stays_with_the_bot() -> None:
    results = await converse(
        [
            "how do I update the card on my account",
            "No, the card ending 4242, the other one",
            "ok thanks, that worked",
        ],
        cid="one-correction",
    )
    assert all(r.action != "escalate" for r in results)
    assert results[1].sentiment is not None and results[1].sentiment["label"] != "frustrated"


async def test_two_slips_with_a_confirmation_between_them_do_not_add_up() -> None:
    results = await converse(
        [
            "I want to change the delivery day of my order to Friday",
            "No, I said Friday, not Monday.",
            "Yes, that's right, Friday works for me.",
            "No, I meant the order from last week, not this one.",
        ],
        cid="confirmed-between",
    )
    assert all(r.action != "escalate" for r in results)
    assert results[3].sentiment is not None and results[3].sentiment["label"] != "frustrated"


async def test_the_same_request_asked_twice_more_hands_off_with_both_restatements_in_the_packet() -> None:
    results = await converse(
        [
            "Our Okta single sign-on keeps looping me back to the login page",
            "Okta SSO sends me back to the login page in a loop, every time",
            "again - the okta single sign on loops back to login",
        ],
        cid="restated-twice",
    )
    assert [r.mode for r in results[:2]] == ["bot", "bot"]
    assert results[2].action == "escalate"
    packet = results[2].handoff
    assert packet is not None
    failed = packet.get("failed_turns", [])
    assert [f["turn"] for f in failed] == [2, 3]
    assert all("restated" in f["signals"] for f in failed)


async def test_a_person_asked_for_after_a_failed_answer_hands_off_at_once_with_that_failure() -> None:
    results = await converse(
        [
            "how do I download last month's invoice",
            "that doesn't help, the download button is greyed out",
            "can I talk to a real person please",
        ],
        cid="person-after-failure",
    )
    assert results[1].mode == "bot"
    assert results[2].action == "escalate"
    packet = results[2].handoff
    assert packet is not None
    failed = packet.get("failed_turns", [])
    assert [f["turn"] for f in failed] == [2]
    assert "rejected_answer" in failed[0]["signals"]
