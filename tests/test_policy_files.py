"""Taxonomy, policy and guard files are validated at load; errors name the file and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tactful.agents.policy.files import load_bundle
from tactful.errors import ConfigError
from tests import REPO_ROOT

POLICIES = REPO_ROOT / "policies"


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("tenants"))
    return target


def test_default_files_load_with_the_required_intents() -> None:
    bundle = load_bundle(POLICIES)
    names = set(bundle.taxonomy.by_name)
    required = {
        "password_reset", "mfa_failure", "account_lockout", "sso_confusion", "refund_request", "billing_dispute",
        "cancellation", "lead_pricing", "security_docs", "legal", "procurement", "order_change", "human_request",
    }
    assert required <= names
    for spec in bundle.taxonomy.intents:
        assert spec.risk in {"low", "medium", "high"} and spec.queue
    assert bundle.taxonomy.out_of_scope.examples


def test_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    path = policies / "support.yaml"
    lines = path.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if line.strip().startswith("turn_budget:"))
    lines.insert(idx + 1, "  turn_budjet: 3")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        load_bundle(policies)
    assert info.value.path == str(path)
    assert info.value.line == idx + 2
    assert "turn_budjet" in str(info.value)


def test_bad_risk_value_points_at_its_line(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    path = policies / "taxonomy.yaml"
    text = path.read_text()
    path.write_text(text.replace("risk: low", "risk: tiny", 1))
    with pytest.raises(ConfigError) as info:
        load_bundle(policies)
    expected = next(i for i, line in enumerate(path.read_text().splitlines(), 1) if "risk: tiny" in line)
    assert info.value.line == expected
    assert "taxonomy.yaml" in str(info.value)


def test_unknown_trigger_in_taxonomy_is_rejected_with_its_line(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    path = policies / "taxonomy.yaml"
    path.write_text(path.read_text().replace("escalate_on: [mfa_failed_twice, account_lockout]",
                                             "escalate_on: [mfa_failed_thrice]", 1))
    with pytest.raises(ConfigError) as info:
        load_bundle(policies)
    assert "mfa_failed_thrice" in str(info.value)
    assert info.value.line is not None


def test_invalid_regex_is_rejected(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    path = policies / "guards.yaml"
    path.write_text(path.read_text().replace("- '\\bjail\\s?break'", "- '(unclosed'", 1))
    with pytest.raises(ConfigError) as info:
        load_bundle(policies)
    assert "regular expression" in str(info.value)


def test_tenant_files_override_the_defaults_one_by_one(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    tenant = policies / "tenants" / "acme"
    tenant.mkdir(parents=True)
    text = (policies / "support.yaml").read_text().replace("turn_budget: 24", "turn_budget: 5")
    (tenant / "support.yaml").write_text(text)
    bundle = load_bundle(policies, "acme")
    assert bundle.policy.thresholds.turn_budget == 5
    assert bundle.taxonomy_path == policies / "taxonomy.yaml"
    assert load_bundle(policies, "other").policy.thresholds.turn_budget == 24
