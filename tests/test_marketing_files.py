"""Marketing policy and template files: invalid ones fail at start-up naming the file and line; tenants
override."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from tactful.agents.marketing.models import MarketingRequest
from tactful.agents.marketing.policy import clear_policy_cache
from tactful.agents.marketing.templates import load_marketing_templates
from tactful.errors import ConfigError, InputError
from tactful.graphs.marketing_service import MarketingService
from tactful.settings import Settings
from tests import REPO_ROOT
from tests.marketing_helpers import FIXED_NOW, request


@pytest.fixture()
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", target)
    clear_policy_cache()
    return target


def _service(policy_dir: Path, prompts_dir: Path | None = None) -> MarketingService:
    settings = Settings(policy_dir=policy_dir, prompts_dir=prompts_dir or REPO_ROOT / "prompts")
    return MarketingService(settings, now=lambda: FIXED_NOW)


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def test_an_unquoted_quiet_hours_time_names_the_file_and_line(policy_dir: Path) -> None:
    line = _replace(policy_dir / "marketing.yaml", "default: {start: '21:00'", "default: {start: 21:00")
    with pytest.raises(ConfigError) as err:
        _service(policy_dir)
    assert err.value.path and err.value.path.endswith("marketing.yaml")
    assert err.value.line == line
    assert "quoted" in str(err.value)


def test_an_invalid_routing_pattern_names_the_file_and_line(policy_dir: Path) -> None:
    line = _replace(
        policy_dir / "marketing.yaml", "patterns: ['\\bprocurement\\b'", "patterns: ['(procurement'"
    )
    with pytest.raises(ConfigError) as err:
        _service(policy_dir)
    assert err.value.line == line and "regular expression" in str(err.value)


def test_an_unknown_key_is_an_error(policy_dir: Path) -> None:
    _replace(policy_dir / "marketing.yaml", "lookback_days: 30", "lookback_days: 30\nlookback_dayz: 3")
    with pytest.raises(ConfigError, match="lookback_dayz"):
        _service(policy_dir)


def test_a_sentiment_signal_missing_from_signals_yaml_is_an_error(policy_dir: Path) -> None:
    line = _replace(policy_dir / "marketing.yaml", "signal: rage_click}", "signal: rage_clicking}")
    with pytest.raises(ConfigError) as err:
        _service(policy_dir)
    assert err.value.line == line and "rage_clicking" in str(err.value)


def test_an_unknown_template_placeholder_is_an_error(tmp_path: Path, policy_dir: Path) -> None:
    prompts = tmp_path / "prompts"
    shutil.copytree(REPO_ROOT / "prompts", prompts)
    _replace(prompts / "marketing.yaml", "subject: 'Getting started: {title}'", "subject: 'Hello {nmae}'")
    load_marketing_templates.cache_clear()
    with pytest.raises(ConfigError, match="nmae") as err:
        _service(policy_dir, prompts)
    assert err.value.path and err.value.path.endswith("marketing.yaml") and err.value.line


async def test_a_tenant_policy_overrides_the_default(policy_dir: Path) -> None:
    tenant = policy_dir / "tenants" / "owls"
    tenant.mkdir(parents=True)
    shutil.copy(policy_dir / "marketing.yaml", tenant / "marketing.yaml")
    _replace(
        tenant / "marketing.yaml",
        "default: {start: '21:00', end: '08:00'}",
        "default: {start: '10:00', end: '12:00'}",
    )
    svc = _service(policy_dir)
    req = request()  # 11:00 in New York
    assert (await svc.decide(req)).action == "send"
    owls = await svc.decide(req, tenant="owls")
    assert (owls.action, owls.reason) == ("suppress", "quiet_hours")


def test_a_tenant_name_with_path_characters_is_refused(policy_dir: Path) -> None:
    with pytest.raises(InputError):
        _service(policy_dir).context_for("../etc")


def test_unknown_request_fields_are_refused() -> None:
    data = request().model_dump(mode="json")
    data["profile"]["favourite_colour"] = "teal"
    with pytest.raises(ValidationError, match="favourite_colour"):
        MarketingRequest.model_validate(data)


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        request(profile={"timezone": "Mars/Olympus"})


def test_event_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        request(events=[{"type": "failed_payment", "at": "2024-05-14T10:00:00"}])
