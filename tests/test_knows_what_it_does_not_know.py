"""Issue 13, second round: the classes of over-escalation left after the first one. A placement needs evidence (a
content word shared with the intent), a question about a fee is not a dispute, a rising run of frustration over a
low guess is answered, consent and polite declines are not curt, fillers in a clarifying answer choose no option,
and ``intents eval --graph`` can dump every row and score a held-out part. Every message here is a class example
written for these tests, not a dataset row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tactful.agents.intent.evidence import content_stems, has_evidence
from tactful.agents.intent.node import pick_option
from tactful.agents.policy.checker import PolicyInputs, decide
from tactful.agents.policy.files import load_bundle
from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.cli import main
from tactful.commands.intents import _sample_rows
from tactful.graphs.runner import TurnResult
from tests import REPO_ROOT
from tests.support_helpers import new_runner

BUNDLE = load_bundle(REPO_ROOT / "policies")
TAXONOMY = BUNDLE.taxonomy
IGNORE = TAXONOMY.out_of_scope.evidence.ignore_words


def _handed_off(r: TurnResult) -> bool:
    return r.action == "escalate" or r.mode == "human"


async def converse(lines: list[str], cid: str = "knows") -> list[TurnResult]:
    runner = new_runner()
    return [await runner.turn(cid, line) for line in lines]


# ----------------------------------------------------------------------------------------- placement needs evidence


def test_the_default_taxonomy_turns_the_evidence_check_on() -> None:
    evidence = TAXONOMY.out_of_scope.evidence
    assert 0 < evidence.cap < TAXONOMY.out_of_scope.unsure_below  # a capped opening message is out of scope
    assert evidence.cap < BUNDLE.policy.thresholds.failure_min_confidence  # and no issue whose failures count
    assert {"what", "not", "yes", "fine", "perfect", "no"} <= IGNORE  # quoted in YAML: `no` is no boolean


@pytest.mark.parametrize(
    "text", ["what is it?", "no, not at the moment", "yes, that is what I want", "perfect, thanks a lot"]
)
def test_function_words_and_fillers_are_evidence_for_no_intent(text: str) -> None:
    assert content_stems(text, IGNORE) == set()
    assert not any(has_evidence(TAXONOMY, spec.name, text) for spec in TAXONOMY.intents)


@pytest.mark.parametrize(
    ("text", "label"),
    [("my invoices are missing", "invoices"), ("the refunds never arrived", "refund_request"),
     ("resetting passwords", "password_reset")],
)
def test_a_shared_content_word_is_evidence_whatever_its_ending(text: str, label: str) -> None:
    assert has_evidence(TAXONOMY, label, text)


@pytest.mark.parametrize(
    "text", ["not at the moment, no", "what else have you got?", "which one is closer to the centre?"]
)
async def test_an_opening_message_with_no_evidence_is_out_of_scope(text: str) -> None:
    (r,) = await converse([text])
    assert r.intent is not None and r.intent["out_of_scope"], r.intent
    assert not _handed_off(r)


async def test_a_message_with_evidence_is_still_placed() -> None:
    (r,) = await converse(["my two-factor code is rejected every time"])
    assert r.intent is not None and r.intent["label"] == "mfa_failure" and r.intent["confidence"] > 0.5


async def test_an_issue_under_way_still_takes_its_follow_ups() -> None:
    results = await converse(["my export to csv fails with an error", "it failed again"])
    assert results[1].intent is not None and results[1].intent["label"] == results[0].intent["label"]  # type: ignore[index]


# ----------------------------------------------------------------------------------------- a fee question is billing


@pytest.mark.parametrize(
    "text",
    ["why is there a small fee on my last payment?", "what is that extra fee on this month's bill",
     "how come I paid a processing fee this time?"],
)
async def test_a_question_about_a_fee_is_answered_not_handed_off(text: str) -> None:
    (r,) = await converse([text])
    assert r.intent is not None and r.intent["label"] == "fee_question" and r.intent["risk"] == "low"
    assert not _handed_off(r) and r.reply and "fee" in r.reply


@pytest.mark.parametrize(
    "text",
    ["we were billed twice for the same invoice this month",
     "you charged a fee that your pricing page says you do not charge"],
)
async def test_a_disputed_or_doubled_charge_still_goes_to_billing_escalations(text: str) -> None:
    (r,) = await converse([text])
    assert r.intent is not None and r.intent["label"] == "billing_dispute"


async def test_a_fee_question_that_turns_into_fraud_still_hands_off_at_once() -> None:
    results = await converse(["what is this fee on my statement?", "wait, I never authorized that payment at all"])
    assert _handed_off(results[1]) and results[1].handoff and results[1].handoff["queue"] == "fraud"


# ----------------------------------------------------------------------------------------- risk weighs confidence


def _inputs(confidence: float, *, frustration: float = 0.55, out_of_scope: bool = False) -> PolicyInputs:
    return PolicyInputs(intent="technical_issue", confidence=confidence, margin=1.0, risk="medium",
                        out_of_scope=out_of_scope, frustration=frustration, urgency=0.0, score=-0.3,
                        trend="rising", value=0.0, tier="", prior_escalations=0, failures=0, clarifications=0)


def test_rising_frustration_over_a_low_guess_is_answered() -> None:
    low = decide(BUNDLE, _inputs(BUNDLE.policy.thresholds.failure_min_confidence - 0.1), options=[])
    assert low["action"] == "assist" and low["rule"] == "guess_frustrated"


def test_rising_frustration_over_an_engaged_issue_still_hands_off() -> None:
    engaged = decide(BUNDLE, _inputs(0.9), options=[])
    assert engaged["action"] == "escalate" and engaged["reason"] == "frustration_rising"
    high = decide(BUNDLE, _inputs(0.2, frustration=0.8), options=[])
    assert high["action"] == "escalate" and high["reason"] == "frustration"


async def test_corrections_after_a_low_guess_in_a_booking_do_not_hand_off() -> None:
    results = await converse([
        "I want to see a comedy show downtown",
        "two tickets for saturday",
        "no, make it sunday evening at 7",
        "that's not right, I said sunday at 7 in the evening",
        "try again with the 9 pm show",
    ])
    assert not any(_handed_off(r) for r in results), [(r.action, r.decision and r.decision["rule"]) for r in results]


async def test_a_request_for_a_person_in_an_out_of_domain_dialogue_still_hands_off() -> None:
    results = await converse(["find me a hotel near the beach", "no, the other one", "let me talk to a human"])
    assert _handed_off(results[-1]) and results[-1].handoff and results[-1].handoff["reason"] == "human_requested"


# ----------------------------------------------------------------------------------------- the words of a reply


def test_fillers_in_a_clarifying_answer_choose_no_option() -> None:
    offered = [("billing_dispute", "a charge that looks wrong"), ("technical_issue", "something that isn't working")]
    assert pick_option("Wrong. I prefer the other hotel.", offered, IGNORE) is None
    assert pick_option("the charge, it's wrong", offered, IGNORE) == "billing_dispute"


@pytest.fixture(scope="module")
def reasoner() -> SentimentReasoner:
    return SentimentReasoner(load_signal_config())


@pytest.mark.parametrize("text", ["Fine, do that.", "ok, book it", "Nothing else, thank you."])
def test_consent_and_polite_declines_are_not_curt_after_a_failure(reasoner: SentimentReasoner, text: str) -> None:
    state = reasoner.assess(text, turn=3, previous=None, prior_user_texts=["a", "b"], events=[],
                            last_bot_action="respond", failures=1, channel=None, device=None)
    assert "terse_after_failure" not in state["markers"]


@pytest.mark.parametrize(
    ("text", "counted"),
    [("how many times can I enter a wrong code before it locks?", False),
     ("how many times do I have to explain this", True)],
)
def test_a_question_about_a_limit_is_not_counting_attempts(
    reasoner: SentimentReasoner, text: str, counted: bool
) -> None:
    state = reasoner.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None,
                            failures=0, channel=None, device=None)
    assert ("nth_time" in state["markers"]) is counted


# ---------------------------------------------------------------------------------- measuring: --dump, --held-out


def test_held_out_rows_are_disjoint_from_the_tuning_sample() -> None:
    tuning = _sample_rows(1000, 150, 0)
    held = _sample_rows(1000, 150, 0, held_out=True)
    assert len(tuning) == len(held) == 150 and not set(tuning) & set(held)
    assert _sample_rows(1000, 150, 0) == tuning  # seeded: the same rows every run


def test_intents_eval_graph_dumps_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "traffic.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows([["how do I add a teammate", "benign"], ["get me a human now", "person"]])
    dump = tmp_path / "dump.jsonl"
    assert main(["intents", "eval", str(data), "--graph", "--dump", str(dump)]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    assert [r["label"] for r in records] == ["benign", "person"]
    assert records[1]["handed_off"] and records[1]["reason"] == "human_requested"
    turn = records[0]["turns"][0]
    assert {"text", "intent", "confidence", "rule", "reason", "markers", "guards"} <= set(turn)
    assert main(["intents", "eval", str(data), "--graph", "--dump", str(dump), "--dump-handoffs"]) == 0
    assert [json.loads(x)["label"] for x in dump.read_text(encoding="utf-8").splitlines()] == ["person"]
    assert main(["intents", "eval", str(data), "--dump", str(dump)]) == 2  # --dump needs --graph


@pytest.mark.parametrize(
    ("text", "sarcastic"),
    [("I've waited 3 days for the merchant, so it would be very helpful if you could speed this up", False),
     ("any help is much appreciated, it still fails after two tries", False),
     ("great job, it's broken again", True)],
)
def test_the_courtesy_of_a_request_is_not_sarcasm(reasoner: SentimentReasoner, text: str, sarcastic: bool) -> None:
    state = reasoner.assess(text, turn=2, previous=None, prior_user_texts=["x"], events=[], last_bot_action="respond",
                            failures=0, channel=None, device=None)
    assert ("sarcasm" in state["markers"]) is sarcastic


def test_a_recurring_error_is_not_counting_appeals(reasoner: SentimentReasoner) -> None:
    state = reasoner.assess("I keep getting an error when I upload the file", turn=1, previous=None,
                            prior_user_texts=[], events=[], last_bot_action=None, failures=0, channel=None,
                            device=None)
    assert "nth_time" not in state["markers"]
