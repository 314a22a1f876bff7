"""The intent node's carry thresholds come from the taxonomy file (``dialogue_acts.carry_below`` and
``dialogue_acts.new_issue_at`` in ``policies/taxonomy.yaml``), not from constants in code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.policy.files import load_bundle
from tactful.errors import ConfigError
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner, TurnResult
from tactful.graphs.support import compile_support_graph
from tactful.resources import POLICY_DIR
from tactful.settings import Settings

OPENING = "my two-factor code is rejected every time I sign in"


def _policies(tmp_path: Path, old: str, new: str) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    taxonomy = target / "taxonomy.yaml"
    text = taxonomy.read_text(encoding="utf-8")
    assert old in text
    taxonomy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


async def _converse(policy_dir: Path | None, lines: list[str]) -> list[TurnResult]:
    settings = Settings(engine="offline") if policy_dir is None else Settings(engine="offline", policy_dir=policy_dir)
    ctx = build_context(settings)
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    return [await runner.turn("carry", line) for line in lines]


def test_the_shipped_taxonomy_states_both_carry_thresholds() -> None:
    acts = load_bundle(POLICY_DIR).taxonomy.dialogue_acts
    assert acts.carry_below == 0.4
    assert acts.new_issue_at == 0.85


async def test_carry_below_from_the_file_decides_whether_an_unsure_short_message_stays_on_the_issue(
    tmp_path: Path,
) -> None:
    lines = [OPENING, "what should I do now"]
    shipped = await _converse(None, lines)
    assert shipped[1].intent is not None and shipped[1].intent["source"] == "carried"
    # an issue placed below carry_below is not an issue to carry: the unsure short message is read on its own
    strict = await _converse(_policies(tmp_path, "carry_below: 0.4", "carry_below: 0.999"), lines)
    assert strict[0].intent is not None and strict[0].intent["label"] == "mfa_failure"
    assert strict[1].intent is not None and strict[1].intent["source"] != "carried"


async def test_new_issue_at_from_the_file_decides_when_a_follow_up_raises_another_issue(tmp_path: Path) -> None:
    lines = [OPENING, "that did not help, and the invoice total looks wrong"]
    shipped = await _converse(None, lines)
    assert shipped[1].intent is not None and shipped[1].intent["label"] == "mfa_failure"
    eager = await _converse(_policies(tmp_path, "new_issue_at: 0.85", "new_issue_at: 0.0"), lines)
    assert eager[1].intent is not None and eager[1].intent["label"] != "mfa_failure"
    assert eager[1].intent["source"] != "carried"


def test_a_carry_threshold_out_of_range_names_the_file_and_line(tmp_path: Path) -> None:
    policies = _policies(tmp_path, "new_issue_at: 0.85", "new_issue_at: 8.5")
    line = next(
        i for i, x in enumerate((policies / "taxonomy.yaml").read_text().splitlines(), 1) if "new_issue_at" in x
    )
    with pytest.raises(ConfigError) as err:
        load_bundle(policies).taxonomy  # noqa: B018 - loading is the check
    assert err.value.path and err.value.path.endswith("taxonomy.yaml") and err.value.line == line
