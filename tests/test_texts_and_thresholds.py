"""Agent-facing text and handoff thresholds come from the data files: ``prompts/agent_notes.yaml``, the
``explanations`` of ``prompts/marketing.yaml`` and ``handoff.priority`` in ``policies/support.yaml``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tactful.agents.handoff.node import priority_of
from tactful.agents.marketing.templates import load_marketing_templates
from tactful.agents.notes import load_agent_notes
from tactful.agents.policy.files import HandoffPriority, load_bundle
from tactful.errors import ConfigError
from tactful.resources import POLICY_DIR, PROMPTS_DIR
from tests.support_helpers import new_runner


def _prompts(tmp_path: Path) -> Path:
    target = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, target)
    return target


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def test_the_handoff_priority_thresholds_are_read_from_the_support_policy() -> None:
    rules = load_bundle(POLICY_DIR).policy.handoff.priority
    assert rules.urgent_topics == ["safety", "fraud"] and rules.frustration == 0.6 and rules.urgency == 0.6

    def prio(rules: HandoffPriority, *, reason: str = "repeated_failure", frustration: float = 0.0) -> str:
        return priority_of(
            reason=reason, risk="low", frustration=frustration, urgency=0.0, value=0.0, high_value=50000,
            rules=rules,
        )

    assert prio(rules, reason="sensitive_topic:fraud") == "urgent"
    assert prio(rules, reason="sensitive_topic:legal") == "normal"
    assert prio(rules.model_copy(update={"urgent_topics": ["legal"]}), reason="sensitive_topic:legal") == "urgent"
    assert prio(rules, frustration=0.5) == "normal"
    assert prio(rules.model_copy(update={"frustration": 0.4}), frustration=0.5) == "high"
    assert prio(rules, reason="out_of_scope") == "low"


def test_a_priority_threshold_out_of_range_names_the_file_and_line(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    line = _replace(policies / "support.yaml", "    frustration: 0.6 ", "    frustration: 6 ")
    with pytest.raises(ConfigError) as err:
        load_bundle(policies).policy  # noqa: B018 - loading is the check
    assert err.value.path and err.value.path.endswith("support.yaml") and err.value.line == line


async def test_the_packet_says_what_was_tried_in_the_words_of_the_notes_file() -> None:
    runner = new_runner()
    await runner.turn("n1", "how do I reset my password?")
    result = await runner.turn("n1", "let me talk to a person")
    notes = load_agent_notes(PROMPTS_DIR)
    assert result.handoff is not None
    expected = notes.tried.gave_steps.format(topic="password reset", turn=1)
    assert any(line.startswith(expected.split(" (")[0]) for line in result.handoff["tried"])
    first_said = notes.summary.first_said.split("{", 1)[0]
    assert first_said in result.handoff["summary"]


def test_a_placeholder_typo_in_the_agent_notes_names_the_file_and_line(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path)
    line = _replace(prompts / "agent_notes.yaml", "Offered options for {topic}", "Offered options for {topik}")
    with pytest.raises(ConfigError) as err:
        load_agent_notes(prompts)
    assert err.value.path and err.value.path.endswith("agent_notes.yaml") and err.value.line == line
    assert "topik" in str(err.value)


def test_a_placeholder_typo_in_a_marketing_explanation_names_the_file_and_line(tmp_path: Path) -> None:
    prompts = _prompts(tmp_path)
    line = _replace(prompts / "marketing.yaml", "opted out of {channel}.", "opted out of {chanel}.")
    with pytest.raises(ConfigError) as err:
        load_marketing_templates(prompts)
    assert err.value.path and err.value.path.endswith("marketing.yaml") and err.value.line == line
