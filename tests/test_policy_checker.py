"""The policy checker reads the matrix deterministically and explains every decision."""

from __future__ import annotations

from dataclasses import replace

from tactful.agents.policy.checker import PolicyInputs, decide
from tactful.agents.policy.files import load_bundle
from tests import REPO_ROOT

BUNDLE = load_bundle(REPO_ROOT / "policies")
BASE = PolicyInputs(
    intent="password_reset", confidence=0.9, margin=0.8, risk="low", out_of_scope=False, frustration=0.0,
    urgency=0.0, score=0.0, trend="steady", value=0.0, tier="free", prior_escalations=0, failures=0,
    clarifications=0,
)


def test_low_risk_confident_is_automated() -> None:
    d = decide(BUNDLE, BASE, options=[])
    assert (d["action"], d["rule"]) == ("respond", "low_risk_confident")


def test_every_input_is_a_factor_and_the_deciding_ones_are_marked() -> None:
    d = decide(BUNDLE, BASE, options=[])
    names = {f["name"] for f in d["factors"]}
    assert {"confidence", "risk", "frustration", "trend", "value", "tier", "failures"} <= names
    marked = {f["name"] for f in d["factors"] if f["effect"] != "considered"}
    assert marked == {"risk", "confidence"}


def test_high_risk_escalates() -> None:
    d = decide(BUNDLE, replace(BASE, intent="billing_dispute", risk="high"), options=[])
    assert (d["action"], d["reason"]) == ("escalate", "high_risk_intent")


def test_trigger_escalates_whatever_the_risk() -> None:
    d = decide(BUNDLE, replace(BASE, triggers=("mfa_failed_twice",)), options=[])
    assert d["action"] == "escalate" and d["rule"] == "trigger_fired"


def test_close_runner_up_clarifies_once_then_assists() -> None:
    ambiguous = replace(BASE, confidence=0.45, margin=0.05)
    assert decide(BUNDLE, ambiguous, options=[])["action"] == "clarify"
    assert decide(BUNDLE, replace(ambiguous, clarifications=1), options=[])["action"] == "assist"


def test_medium_risk_assists_and_a_failed_answer_is_not_repeated() -> None:
    assert decide(BUNDLE, replace(BASE, intent="mfa_failure", risk="medium"), options=[])["action"] == "assist"
    assert decide(BUNDLE, replace(BASE, failures=1), options=[])["reason"] == "answer_did_not_help"


def test_high_value_friction_escalates_a_mild_complaint() -> None:
    mild = replace(BASE, intent="update_payment", risk="medium", frustration=0.3, value=80000, score=-0.2)
    assert decide(BUNDLE, mild, options=[])["reason"] == "high_value_friction"
    assert decide(BUNDLE, replace(mild, value=100), options=[])["action"] == "assist"


def test_out_of_scope_is_a_real_answer() -> None:
    d = decide(BUNDLE, replace(BASE, intent="out_of_scope", out_of_scope=True, confidence=0.2), options=[])
    assert (d["action"], d["reason"]) == ("respond", "out_of_scope")
