"""``/metrics`` names tenants and ``/readyz`` counts them: with API keys configured (``ops_require_key`` on by
default) ``/metrics`` needs a key and ``/readyz`` leaves the count out without one, so a container probe still
works keyless; ``/healthz`` never needs one. Single-tenant mode, or the setting off, leaves them open."""

from __future__ import annotations

from pathlib import Path

import pytest

from tactful.errors import ConfigError
from tactful.service.app import create_app
from tests.server_helpers import KEY_ACME, TWO_TENANTS, bearer, in_process, service_settings


async def test_with_keys_metrics_needs_a_key_and_readyz_hides_the_tenant_count(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, api_keys=TWO_TENANTS)) as (_, client):
        await client.post("/v1/conversations/c1/messages", json={"text": "hello"}, headers=bearer(KEY_ACME))
        metrics_anonymous = await client.get("/metrics")
        metrics_wrong = await client.get("/metrics", headers=bearer("not-a-key-0123456789"))
        metrics_keyed = await client.get("/metrics", headers=bearer(KEY_ACME))
        ready_anonymous = await client.get("/readyz")
        ready_keyed = await client.get("/readyz", headers=bearer(KEY_ACME))
        health = await client.get("/healthz")
    assert metrics_anonymous.status_code == 401 and metrics_wrong.status_code == 401
    assert metrics_anonymous.json()["code"] == "unauthorized"
    assert "acme" not in metrics_anonymous.text
    assert metrics_keyed.status_code == 200 and 'tenant="acme"' in metrics_keyed.text
    assert ready_anonymous.status_code == 200
    assert ready_anonymous.json()["status"] == "ready" and ready_anonymous.json()["tenants"] is None
    assert ready_keyed.json()["tenants"] == 2
    assert health.status_code == 200


async def test_the_setting_off_leaves_them_open_with_keys(tmp_path: Path) -> None:
    settings = service_settings(tmp_path, api_keys=TWO_TENANTS, ops_require_key=False)
    async with in_process(settings) as (_, client):
        metrics = await client.get("/metrics")
        ready = await client.get("/readyz")
    assert metrics.status_code == 200 and ready.json()["tenants"] == 2


async def test_single_tenant_mode_leaves_them_open(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        metrics = await client.get("/metrics")
        ready = await client.get("/readyz")
    assert metrics.status_code == 200 and ready.json()["tenants"] == 1


def test_requiring_a_key_with_no_keys_configured_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no API key is configured"):
        create_app(service_settings(tmp_path, ops_require_key=True))
