"""Settings at start-up: ``.env`` is read (the environment wins); an unknown ``TACTFUL_*`` variable or a bad value
fails with one line naming the variable and what it accepts; ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` are the
fallbacks of the model engine's own variables; ``docs/settings.md`` is the generated reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tactful.errors import ConfigError
from tactful.settings import Settings, load_settings
from tactful.settings_check import reference
from tests import REPO_ROOT
from tests.server_helpers import clean_env


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No tactful or OpenAI variables, and a working directory without a ``.env``."""
    import os

    for var in list(os.environ):
        if var.startswith(("TACTFUL_", "OPENAI_")) or var == "DATABASE_URL":
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_an_unknown_tactful_variable_fails_naming_it(env: pytest.MonkeyPatch) -> None:
    env.setenv("TACTFUL_ENIGNE", "openai")
    with pytest.raises(ConfigError, match="unknown setting TACTFUL_ENIGNE") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


def test_nested_and_test_suite_variables_are_not_unknown(env: pytest.MonkeyPatch) -> None:
    env.setenv("TACTFUL_API_KEYS__ACME", '["acme-key-0123456789"]')
    env.setenv("TACTFUL_TEST_DATABASE_URL", "postgresql://x")
    assert [k.get_secret_value() for k in load_settings().api_keys["acme"]] == ["acme-key-0123456789"]


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("TACTFUL_ENGINE", "gpt", "TACTFUL_ENGINE='gpt': not accepted; accepts one of offline, openai, scripted"),
        ("TACTFUL_API_KEYS", "notjson", "TACTFUL_API_KEYS: not valid JSON; accepts a JSON object"),
        ("TACTFUL_MAX_BODY_BYTES", "12", "TACTFUL_MAX_BODY_BYTES='12': input should be greater than or equal to 1024"),
        ("TACTFUL_MASK_EMAILS", "maybe", "TACTFUL_MASK_EMAILS='maybe': not accepted; accepts true or false"),
        ("DATABASE_URL", "", None),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_and_what_it_accepts(
    env: pytest.MonkeyPatch, var: str, value: str, says: str | None
) -> None:
    env.setenv(var, value)
    if says is None:  # an empty value is a value, not an error, where the setting is text
        load_settings()
        return
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(says)
    assert "\n" not in str(caught.value)


def test_a_secret_value_is_never_shown(env: pytest.MonkeyPatch) -> None:
    env.setenv("TACTFUL_WEBHOOK_SECRET", "x" * 5)
    env.setenv("TACTFUL_REQUEST_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="TACTFUL_REQUEST_TIMEOUT_S='soon'") as caught:
        load_settings()
    assert "xxxxx" not in str(caught.value)


def test_a_dotenv_file_is_read_and_the_environment_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TACTFUL_ENGINE=scripted\nTACTFUL_TENANT=acme\nLANGSMITH_PROJECT=other-tools-may-share-the-file\n",
        encoding="utf-8",
    )
    env.setenv("TACTFUL_TENANT", "globex")
    settings = load_settings()
    assert settings.engine == "scripted" and settings.tenant == "globex"


def test_an_unknown_tactful_variable_in_dotenv_fails_too(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TACTFUL_MODLE=gpt-4o\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TACTFUL_MODLE"):
        load_settings()


def test_openai_variables_are_the_fallbacks_and_tactful_ones_win(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENAI_API_KEY", "sk-from-openai-variable")
    env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    fallback = load_settings()
    assert fallback.openai_api_key is not None
    assert fallback.openai_api_key.get_secret_value() == "sk-from-openai-variable"
    assert fallback.openai_base_url == "http://127.0.0.1:9/v1"
    env.setenv("TACTFUL_OPENAI_API_KEY", "sk-tactful")
    assert load_settings().openai_api_key.get_secret_value() == "sk-tactful"  # type: ignore[union-attr]


def test_the_engine_sends_to_the_configured_url_and_key(env: pytest.MonkeyPatch) -> None:
    """The SDK gets both from the settings, never from the environment behind their back."""
    from tactful.agents.engine.client import DEFAULT_BASE_URL, ModelClient

    env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    explicit = Settings(openai_base_url=None, openai_api_key="sk-test-0123456789")  # type: ignore[arg-type]

    async def urls() -> tuple[str, str]:
        client = ModelClient(settings=explicit).client()
        fallback = ModelClient(settings=load_settings(openai_api_key="sk-test-0123456789")).client()
        return str(client.base_url), str(fallback.base_url)

    import asyncio

    default, from_env = asyncio.run(urls())
    assert default.rstrip("/") == DEFAULT_BASE_URL
    assert from_env.rstrip("/") == "http://127.0.0.1:9/v1"


def test_tactful_serve_stops_with_one_line_on_a_bad_variable(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tactful.cli", "serve", "--port", "9"],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(REPO_ROOT), TACTFUL_ENGINE="gpt"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "tactful: error: TACTFUL_ENGINE='gpt': not accepted; accepts one of offline, openai, scripted"
    ]


def test_the_settings_reference_in_docs_is_current() -> None:
    current = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert current == reference(Settings), "regenerate: python -m tactful.settings --write"
    for name in Settings.model_fields:
        assert name.upper() in current
