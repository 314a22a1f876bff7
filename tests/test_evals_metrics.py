"""Suite metrics from scenario scores, and gates over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tactful.errors import ConfigError
from tactful.evals.gates import DEFAULT_GATES, evaluate, load_gates
from tactful.evals.metrics import compute
from tactful.evals.scoring import SCORE, Check, HandoffScore, ScenarioScore


def _score(sid: str, **kw: Any) -> ScenarioScore:
    base: dict[str, Any] = {
        "id": sid,
        "product": "support",
        "path": f"{sid}.yaml",
        "title": sid,
        "tags": [],
        "catches": None,
        "source": "scripted",
        "status": "pass",
        "checks": [],
    }
    base.update(kw)
    return SCORE.validate_python(base)


def _failed(category: str) -> Check:
    return Check(name="x", ok=False, category=category)  # type: ignore[arg-type]


def test_escalation_precision_recall_f1_and_delay() -> None:
    scores = [
        _score(
            "tp_on_time",
            expected_escalation=True,
            escalated=True,
            expected_turn=2,
            escalation_turn=2,
            delay=0,
        ),
        _score(
            "tp_late", expected_escalation=True, escalated=True, expected_turn=1, escalation_turn=3, delay=2
        ),
        _score("fn", expected_escalation=True, escalated=False, expected_turn=1),
        _score("fp", expected_escalation=False, escalated=True, escalation_turn=1),
        _score("tn", expected_escalation=False, escalated=False, contained=True),
        _score("unlabelled", escalated=True, escalation_turn=1),
    ]
    m = compute(scores)
    assert m.escalation_precision == pytest.approx(2 / 3, abs=1e-4)
    assert m.escalation_recall == pytest.approx(2 / 3, abs=1e-4)
    assert m.escalation_f1 == pytest.approx(2 / 3, abs=1e-4)
    assert m.escalation_delay_mean == 1.0
    assert m.escalation_late_rate == 0.5


def test_containment_without_regret_excludes_conversations_whose_issue_came_back() -> None:
    scores = [
        _score("clean", contained=True, expected_escalation=False),
        _score("regret", contained=True, regret=True, expected_escalation=False),
        _score("escalated", escalated=True),
        _score("clean2", contained=True),
    ]
    m = compute(scores)
    assert m.containment_rate == 0.75
    assert m.containment_without_regret == 0.5
    assert m.containment_when_expected == 0.5


def test_handoff_completeness_repeated_question_rate_and_restatements() -> None:
    packet = HandoffScore(turn=1, fields={"a": True, "b": False}, completeness=0.5, problems=["b missing"])
    scores = [
        _score(
            "a",
            handoff=packet,
            questions_asked=4,
            repeated_questions=[
                {"turn": 2, "kind": "slot:email", "detail": ""},
                {"turn": 2, "kind": "same_question", "detail": ""},
            ],
            restatements=2,
            restatements_noticed=1,
        ),
        _score(
            "b",
            handoff=HandoffScore(turn=2, fields={"a": True}, completeness=1.0, problems=[]),
            questions_asked=0,
        ),
    ]
    m = compute(scores)
    assert m.handoff_completeness == 0.75
    assert m.repeated_questions == 1  # one turn, two reasons
    assert m.repeated_question_rate == 0.25
    assert m.user_restatements == 1.0
    assert m.restatements_noticed == 0.5


def test_sentiment_recovery_breaches_failures_and_usage() -> None:
    scores = [
        _score("recovered", recovery=0.8, recovered=True, model_calls=[1, 0], tokens=[100, 0]),
        _score(
            "stuck",
            status="fail",
            recovery=0.0,
            recovered=False,
            checks=[_failed("policy_breach"), _failed("policy_breach")],
            breaches=[{"turn": 1, "kind": "promotion_during_hold", "detail": ""}],
            model_calls=[2],
            tokens=[50],
        ),
        _score("err", status="error", checks=[_failed("error")]),
        _score("skip", status="skipped"),
    ]
    m = compute(scores, unreadable_files=1)
    assert m.sentiment_recovery == 0.4
    assert m.sentiment_recovered_rate == 0.5
    assert m.policy_breaches == 1 and m.breaches_by_kind == {"promotion_during_hold": 1}
    assert m.failures_by_type["policy_breach"] == 2 and m.scenarios_by_failure_type["policy_breach"] == 1
    assert m.failures_by_type["error"] == 1
    assert m.model_calls_per_turn == 1.0 and m.tokens_per_turn == 50.0
    assert (m.passed, m.failed, m.errors, m.skipped, m.unreadable_files) == (1, 1, 1, 1, 1)
    assert m.pass_rate == pytest.approx(1 / 3, abs=1e-4)


def test_marketing_decisions_feed_accuracy_and_the_confusion_matrix() -> None:
    scores = [
        _score("m1", product="marketing", expected_decision="suppress", decision="suppress"),
        _score("m2", product="marketing", expected_decision="suppress", decision="send", status="fail"),
        _score("m3", product="marketing", expected_decision="route_to_rep", decision="route_to_rep"),
    ]
    m = compute(scores)
    assert m.marketing_decision_accuracy == pytest.approx(2 / 3, abs=1e-4)
    assert m.suppress_recall == 0.5 and m.suppress_precision == 1.0
    labels = m.marketing_confusion.labels
    assert m.marketing_confusion.matrix[labels.index("suppress")][labels.index("send")] == 1


def test_gates_pass_and_fail_on_min_and_max(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(
        "version: 1\ngates:\n  pass_rate: {min: 0.9}\n  policy_breaches: {max: 0}\n"
        "  escalation_f1: {min: 0.5}\n",
        encoding="utf-8",
    )
    gates = load_gates(path)
    m = compute(
        [_score("a"), _score("b", status="fail", breaches=[{"turn": 1, "kind": "forbidden", "detail": ""}])]
    )
    results = {g.metric: g.ok for g in evaluate(gates, m)}
    assert results == {
        "pass_rate": False,
        "policy_breaches": False,
        "escalation_f1": True,
    }  # f1: nothing to measure


def test_a_gate_on_an_unknown_metric_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(
        "version: 1\ngates:\n  pass_rate: {min: 0.9}\n  escalation_f2: {min: 0.5}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_gates(path)
    assert info.value.line == 4 and "escalation_f2" in str(info.value)


def test_the_shipped_gates_file_is_valid() -> None:
    assert load_gates(DEFAULT_GATES).gates
