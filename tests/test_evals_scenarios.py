"""Scenario files: the shipped suite loads and covers what the issue asks; bad files are reported with file
and line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tactful.evals.scenario import (
    MarketingScenario,
    SupportScenario,
    load_all,
    matches,
    parse_duration,
)

SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios"

GOOD = """\
id: t.good
product: support
title: A good one
turns:
  - user: I forgot my password
    expect: {action: respond}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_scenarios_all_load_and_number_at_least_sixty() -> None:
    loaded, errors = load_all([SCENARIOS])
    assert errors == []
    assert len(loaded) >= 60


def test_shipped_scenarios_cover_every_decision_matrix_row_and_the_named_cases() -> None:
    loaded, _ = load_all([SCENARIOS])
    support = [i.scenario for i in loaded if isinstance(i.scenario, SupportScenario)]
    marketing = [i.scenario for i in loaded if isinstance(i.scenario, MarketingScenario)]
    ids = {s.id for s in support}
    for row in ("password_reset", "refund", "lead", "churn", "billing"):
        assert any(i.startswith(f"matrix.{row}.") for i in ids), row
    tags = Counter(t for s in [*support, *marketing] for t in s.tags)
    for tag in (
        "seed_people",
        "terse",
        "hurried",
        "mobile",
        "restatement",
        "vip",
        "injection",
        "hold",
        "quiet_hours",
        "consent",
        "soft_escalation",
    ):
        assert tags[tag] >= 1, tag
    assert sum(1 for s in [*support, *marketing] if s.catches) >= 10
    assert sum(1 for s in support if "injection" in s.tags) >= 3


def test_malformed_field_is_reported_with_file_and_line_and_others_still_load(tmp_path: Path) -> None:
    _write(tmp_path, "a_good.yaml", GOOD)
    bad = _write(
        tmp_path,
        "b_bad.yaml",
        GOOD.replace("id: t.good", "id: t.bad").replace(
            "expect: {action: respond}", "expect: {action: shout}"
        ),
    )
    loaded, errors = load_all([tmp_path])
    assert [i.scenario.id for i in loaded] == ["t.good"]
    assert len(errors) == 1
    assert errors[0].path == str(bad)
    assert errors[0].line == 6
    assert "action" in errors[0].message


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", "id: x\nproduct: support\nturns:\n  - user: [unclosed\n")
    _, errors = load_all([bad])
    assert errors[0].line is not None and errors[0].line >= 4
    assert "invalid YAML" in errors[0].message


def test_unknown_product_names_the_product_line(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", "id: x\ntitle: t\nproduct: sales\nturns: []\n")
    _, errors = load_all([bad])
    assert errors[0].line == 3
    assert "product" in errors[0].message


def test_duplicate_id_is_reported_for_the_second_file(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    second = _write(tmp_path, "b.yaml", GOOD)
    loaded, errors = load_all([tmp_path])
    assert len(loaded) == 1
    assert errors[0].path == str(second) and errors[0].line == 1 and "duplicate" in errors[0].message


def test_events_only_last_turn_is_rejected(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", GOOD + "  - events: [{type: failed_payment}]\n")
    _, errors = load_all([bad])
    assert "last turn" in errors[0].message


def test_escalated_by_turn_beyond_the_conversation_is_rejected(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", GOOD + "expect: {escalated_by_turn: 3}\n")
    _, errors = load_all([bad])
    assert "escalated_by_turn" in errors[0].message


def test_matches_accepts_values_lists_and_prefixes() -> None:
    assert matches("fraud", "fraud")
    assert matches(["billing", "fraud"], "fraud")
    assert matches("sensitive_topic:*", "sensitive_topic:legal")
    assert not matches("sensitive_topic:*", "human_requested")
    assert not matches("fraud", None)


def test_parse_duration_reads_units_and_rejects_garbage() -> None:
    assert parse_duration("90s").total_seconds() == 90
    assert parse_duration("2h").total_seconds() == 7200
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_the_readme_example_is_a_valid_scenario(tmp_path: Path) -> None:
    readme = (SCENARIOS.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Eval scenarios", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded, errors = load_all([_write(tmp_path, "readme.yaml", example)])
    assert errors == [] and isinstance(loaded[0].scenario, SupportScenario)
