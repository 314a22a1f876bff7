"""Property-based: schemathesis sends valid and invalid requests built from the OpenAPI spec; none may get a
5xx, and every answer must match the documented status codes, content types and schemas. Bounded: a few
examples per operation, so the run stays well under a minute."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from tactful.service.app import create_app
from tests.server_helpers import KEY_ACME, ServerProcess, bearer, clean_env, service_settings


@pytest.fixture
def api_schema(tmp_path: Path) -> schemathesis.schemas.BaseSchema:
    app = create_app(service_settings(tmp_path, api_keys={"acme": [KEY_ACME]}))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# The agent console (its own module and tests) streams an endless live feed; it is not fuzzed here.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex="^/console")


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=bearer(KEY_ACME),
        checks=[
            checks.not_a_server_error,
            openapi_checks.status_code_conformance,
            openapi_checks.content_type_conformance,
            openapi_checks.response_schema_conformance,
        ],
    )


@pytest.mark.slow
def test_schemathesis_with_all_checks_finds_nothing_against_a_running_service(tmp_path: Path) -> None:
    """The command-line run an operator would do (``st run --checks all``): positive and negative data, every
    conformance check, stateful links, against ``tactful serve`` on loopback. The document states every rule
    the server enforces, so no schema-valid request is rejected and no schema-violating one accepted."""
    st = Path(sys.executable).with_name("st")
    if not st.is_file():
        pytest.skip("schemathesis's `st` command is not installed beside this interpreter")
    server = ServerProcess(
        clean_env(
            TACTFUL_DATA_DIR=str(tmp_path / "data"),
            TACTFUL_API_KEYS=json.dumps({"acme": [KEY_ACME]}),
            TACTFUL_RATE_LIMIT_PER_MINUTE="0",
        ),
        log_path=tmp_path / "server.log",
    ).start()
    try:
        run = subprocess.run(
            [str(st), "run", f"{server.url}/openapi.json", "--checks", "all", "--header",
             f"Authorization: Bearer {KEY_ACME}", "--exclude-path-regex", "^/console", "--max-examples", "10",
             "--generation-deterministic", "--report", "json", "--report-json-path", str(tmp_path / "st.json")],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )
    finally:
        server.stop()
    tail = run.stdout[-6000:]
    assert run.returncode == 0, tail
    assert re.search(r"\b(\d+) generated, \1 passed", run.stdout), tail
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
