"""The score types and the scorer's dispatch: a score is support or marketing by its ``product``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tactful.evals.detectors import default_detectors
from tactful.evals.records import ScenarioRun
from tactful.evals.scenario import MarketingScenario
from tactful.evals.scoring import SCORE, MarketingScore, Scorer, SupportScore
from tactful.evals.scoring.common import phrase_checks

BASE = {"id": "x", "path": "x.yaml", "title": "x", "tags": [], "catches": None, "source": "scripted",
        "status": "pass", "checks": []}


def test_the_product_picks_the_score_type_and_its_fields() -> None:
    marketing = SCORE.validate_python({**BASE, "product": "marketing", "decision": "send"})
    support = SCORE.validate_python({**BASE, "product": "support", "escalated": True})
    assert isinstance(marketing, MarketingScore) and marketing.decision == "send"
    assert isinstance(support, SupportScore) and support.escalated
    assert "escalated" not in marketing.model_dump() and "decision" not in support.model_dump()
    assert SCORE.validate_python(support.model_dump()) == support


def test_an_unknown_product_is_refused_and_the_other_products_fields_are_dropped() -> None:
    with pytest.raises(ValidationError):
        SCORE.validate_python({**BASE, "product": "unknown"})
    assert "escalated" not in SCORE.validate_python({**BASE, "product": "marketing", "escalated": True}).model_dump()


def test_a_marketing_scenario_that_could_not_run_scores_as_a_marketing_error() -> None:
    scenario = MarketingScenario(id="m.err", product="marketing", title="t", request={},
                                 expect={"decision": "send"})  # type: ignore[arg-type]
    run = ScenarioRun(id="m.err", product="marketing", path="m.yaml", error="boom")
    score = Scorer(default_detectors()).score(scenario, run)
    assert isinstance(score, MarketingScore)
    assert score.status == "error" and score.note == "boom"
    assert [(c.name, c.category) for c in score.failures] == [("run", "error")]


def test_phrase_checks_are_case_insensitive_and_named_by_prefix() -> None:
    checks = phrase_checks("Open Settings, then Security.", prefix="reply", contains=["settings"],
                           contains_any=["billing", "SECURITY"], not_contains=["refund"], shown="s", turn=2)
    assert [(c.name, c.ok, c.turn) for c in checks] == [
        ("reply_contains", True, 2), ("reply_contains_any", True, 2), ("reply_not_contains", True, 2)
    ]
    missed = phrase_checks("hello", prefix="message", contains=["bye"], contains_any=[], not_contains=["hell"],
                           shown="hello")
    assert [(c.name, c.ok, c.category) for c in missed] == [
        ("message_contains", False, "wrong_reply"), ("message_not_contains", False, "wrong_reply")
    ]
