"""Property-based: schemathesis sends valid and invalid requests built from the OpenAPI spec; none may get a
5xx, and every answer must match the documented status codes, content types and schemas. Bounded: a few
examples per operation, so the run stays well under a minute."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from tactful.service.app import create_app
from tests.server_helpers import KEY_ACME, bearer, service_settings


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
