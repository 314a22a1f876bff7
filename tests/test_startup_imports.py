"""Start-up of ``tactful eval`` / ``tactful chat``: what importing their command modules must not do — import the
service's stack, or build tactful's pydantic models before their first use — and that the deferral changes no
behaviour (a deferred model validates as before; the settings reference gets pydantic's field docstrings)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError

from tactful.settings import Settings
from tactful.settings_check import field_docs

# Not needed by a command that replays or chats: the HTTP service, the model client, the fitting libraries.
# Nor scipy (the cached intent model is read and one message scored with numpy alone) or phonenumbers (phone masking
# is off by default, and the default regions are checked without it).
NOT_IMPORTED = (
    "fastapi",
    "starlette",
    "uvicorn",
    "prometheus_client",
    "openai",
    "httpx",
    "sklearn",
    "scipy",
    "phonenumbers",
    "tactful.service",
    "tactful.agents.engine.openai_compatible",
)


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


@pytest.mark.parametrize("command", ["eval", "chat"])
def test_command_import_leaves_the_heavy_modules_out(command: str) -> None:
    out = _run(f"""
        import sys
        import tactful.commands.{command}
        print(*sorted(m for m in {NOT_IMPORTED!r} if m in sys.modules))
    """)
    assert out == ""


def test_command_import_builds_no_tactful_model_yet() -> None:
    out = _run("""
        import tactful.commands.eval, tactful.commands.chat
        from tactful.agents.policy.files import Taxonomy
        from tactful.agents.responder.templates import ReplyTemplates
        from tactful.evals.records import ScenarioRun
        print(*[m.__pydantic_complete__ for m in (Taxonomy, ReplyTemplates, ScenarioRun)])
    """)
    assert out == "False False False"


def test_a_deferred_model_validates_as_before() -> None:
    from tactful.agents.responder.templates import Variants

    with pytest.raises(ValidationError, match=r"Extra inputs are not permitted"):
        Variants.model_validate({"no_such_key": 1})
    assert Variants.__pydantic_complete__


def test_reference_reads_the_docstrings_pydantic_would() -> None:
    from pydantic._internal._docs_extraction import extract_docstrings_from_cls

    assert field_docs(Settings) == extract_docstrings_from_cls(Settings, use_inspect=True)
    assert field_docs(Settings)["mask_phone_regions"]


def test_default_phone_regions_are_checked_as_phonenumbers_would() -> None:
    import phonenumbers

    from tactful.settings import ALWAYS_SUPPORTED_REGIONS

    assert ALWAYS_SUPPORTED_REGIONS <= phonenumbers.SUPPORTED_REGIONS
    assert Settings().mask_phone_regions == ["US", "GB"]
    assert Settings(mask_phone_regions=["gb", "de"]).mask_phone_regions == ["GB", "DE"]
    with pytest.raises(ValidationError, match="unknown phone region"):
        Settings(mask_phone_regions=["us", "XX"])


def test_command_imports_run_without_the_collector_then_freeze() -> None:
    out = _run("""
        import gc
        from tactful.cli import imports_without_gc
        with imports_without_gc():
            during = gc.isenabled()
            import tactful.commands.eval
        print(during, gc.isenabled(), gc.get_freeze_count() > 10000)
        gc.disable()
        with imports_without_gc():
            import tactful.commands.chat
        print(gc.isenabled())
    """)
    assert out.split() == ["False", "True", "True", "False"]
