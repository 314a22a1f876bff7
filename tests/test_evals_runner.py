"""The eval runner and ``tactful eval``: replaying scenarios, determinism, reports and gates."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from tactful import cli
from tactful.commands import eval as eval_command
from tactful.evals.detectors import default_detectors
from tactful.evals.runner import EvalRunner, run_scenarios
from tactful.evals.scenario import LoadedScenario, load_all
from tactful.evals.scoring import Scorer
from tactful.settings import Settings

SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios"
SAMPLE = [
    "support/matrix/password_reset_mfa_fails_twice.yaml",
    "support/matrix/refund_fraud.yaml",
    "support/people/terse_calm.yaml",
    "support/bugs/reply_after_handoff.yaml",
    "support/injection/second_attempt_handoff.yaml",
    "support/people/restated_issue.yaml",
    "marketing/hold_failed_payment.yaml",
]

PASSING = """\
id: t.reset
product: support
title: Password reset
context: {account_id: ACC-9, tier: pro}
turns:
  - user: I forgot my password
    expect: {action: respond, intent: password_reset}
  - events: [{type: mfa_failure}]
  - user: the reset link worked, thanks
    after: 10m
"""

WRONG = """\
id: t.wrong
product: support
title: An expectation the graph cannot meet
turns:
  - user: I forgot my password
    expect: {action: escalate}
"""


@pytest.fixture(scope="module")
def runner() -> EvalRunner:
    return EvalRunner(Settings(engine="offline"))


def _load(*relative: str) -> list[LoadedScenario]:
    loaded, errors = load_all([SCENARIOS / r for r in relative])
    assert errors == []
    return loaded


def _scenario(tmp_path: Path, text: str, name: str = "s.yaml") -> LoadedScenario:
    (tmp_path / name).write_text(text, encoding="utf-8")
    loaded, errors = load_all([tmp_path / name])
    assert errors == []
    return loaded[0]


def test_a_support_scenario_records_each_message_on_the_scenario_clock(
    runner: EvalRunner, tmp_path: Path
) -> None:
    run = asyncio.run(runner.run(_scenario(tmp_path, PASSING)))
    assert run.error is None
    assert [t.turn for t in run.turns] == [1, 2]
    assert [t.at for t in run.turns] == ["2025-03-04T15:01:00+00:00", "2025-03-04T15:12:00+00:00"]
    assert run.turns[0].result.intent is not None and run.turns[0].result.intent["label"] == "password_reset"


def test_an_events_only_turn_rides_with_the_next_message(runner: EvalRunner, tmp_path: Path) -> None:
    run = asyncio.run(runner.run(_scenario(tmp_path, PASSING)))
    assert run.turns[0].events == []
    assert [e["type"] for e in run.turns[1].events] == ["mfa_failure"]
    assert run.turns[1].events[0]["at"] == "2025-03-04T15:02:00+00:00"


def test_the_account_context_reaches_the_graph_on_the_first_turn(runner: EvalRunner) -> None:
    run = asyncio.run(runner.run(_load("support/matrix/refund_fraud.yaml")[0]))
    handoff = run.turns[0].result.handoff
    assert handoff is not None
    assert handoff["account"].get("account_id") == "ACC-2002"


def test_offline_runs_are_deterministic(runner: EvalRunner) -> None:
    items = _load(*SAMPLE)
    scorer = Scorer(default_detectors())
    first = [
        scorer.score(i.scenario, r).model_dump()
        for i, r in zip(items, asyncio.run(runner.run_many(items)), strict=True)
    ]
    second = [
        scorer.score(i.scenario, r).model_dump()
        for i, r in zip(items, asyncio.run(runner.run_many(items, concurrency=4)), strict=True)
    ]
    assert first == second


def test_parallel_worker_processes_give_the_same_results_as_one(runner: EvalRunner) -> None:
    items = _load(*SAMPLE)
    one = [r.model_dump() for r in run_scenarios(runner, items, jobs=1)]
    two = [r.model_dump() for r in run_scenarios(runner, items, jobs=2)]
    assert one == two


def test_a_marketing_scenario_is_decided_by_the_marketing_service(runner: EvalRunner) -> None:
    run = asyncio.run(runner.run(_load("marketing/hold_failed_payment.yaml")[0]))
    assert run.skipped is None and run.error is None
    assert run.marketing is not None and run.marketing.decision == "suppress"


def test_a_failing_scenario_is_scored_with_typed_failures(runner: EvalRunner, tmp_path: Path) -> None:
    item = _scenario(tmp_path, WRONG)
    score = Scorer(default_detectors()).score(item.scenario, asyncio.run(runner.run(item)))
    assert score.status == "fail"
    assert {c.category for c in score.failures} == {"bad_timing"}


# ---------------------------------------------------------------------- the command


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    eval_command.register(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    code: int = args.func(args)
    return code


def test_eval_is_registered_as_a_command() -> None:
    assert "tactful.commands.eval" in cli.COMMAND_MODULES


def test_the_command_writes_both_reports_and_lists_a_malformed_file_with_its_line(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "good.yaml").write_text(PASSING, encoding="utf-8")
    (suite / "broken.yaml").write_text(
        PASSING.replace("id: t.reset", "id: t.broken").replace("after: 10m", "after: soon"), encoding="utf-8"
    )
    gates = tmp_path / "gates.yaml"
    gates.write_text("version: 1\ngates:\n  errors: {max: 0}\n", encoding="utf-8")
    out = tmp_path / "report"
    assert _cli([str(suite), "--report", str(out), "--gates", str(gates), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in report["scenarios"]] == ["t.reset"]
    assert report["load_errors"][0]["path"].endswith("broken.yaml")
    assert report["load_errors"][0]["line"] == 10
    assert report["metrics"]["unreadable_files"] == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "broken.yaml" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html


def test_a_missed_gate_makes_the_command_exit_non_zero(tmp_path: Path) -> None:
    (tmp_path / "wrong.yaml").write_text(WRONG, encoding="utf-8")
    gates = tmp_path / "gates.yaml"
    gates.write_text("version: 1\ngates:\n  pass_rate: {min: 1.0}\n", encoding="utf-8")
    out = tmp_path / "report"
    assert _cli([str(tmp_path / "wrong.yaml"), "--report", str(out), "--gates", str(gates), "--quiet"]) == 1
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["passed"] is False and report["failed"] == ["t.wrong"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "t.wrong" in html and "factors at turn 1" in html


def test_simulate_without_a_model_engine_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(PASSING, encoding="utf-8")
    with pytest.raises(eval_command.InputError, match="--engine openai"):
        _cli([str(tmp_path), "--simulate", "--report", str(tmp_path / "r")])


def test_an_expected_intent_or_queue_the_policy_does_not_know_is_reported_with_its_line(
    runner: EvalRunner, tmp_path: Path
) -> None:
    typo = PASSING.replace("intent: password_reset", "intent: pasword_reset")
    good = _scenario(tmp_path, PASSING, "a.yaml")
    bad = _scenario(tmp_path, typo.replace("id: t.reset", "id: t.typo"), "b.yaml")
    queue = _scenario(tmp_path, WRONG + "expect: {handoff: {queue: acount_access}}\n", "c.yaml")
    kept, errors = runner.check_names([good, bad, queue])
    assert kept == [good]
    assert [(Path(e.path).name, e.line) for e in errors] == [("b.yaml", 7), ("c.yaml", 7)]
    assert "pasword_reset" in errors[0].message and "acount_access" in errors[1].message
