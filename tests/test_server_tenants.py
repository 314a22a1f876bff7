"""Tenants: API keys map to tenants; every conversation, event and handoff is scoped to its tenant; another
tenant's ids answer 404; per-tenant policy files override the defaults; no keys → single-tenant."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tactful.errors import ConfigError
from tactful.service.app import create_app
from tests import REPO_ROOT
from tests.server_helpers import KEY_ACME, KEY_GLOBEX, TWO_TENANTS, bearer, in_process, service_settings

ACME, GLOBEX = bearer(KEY_ACME), bearer(KEY_GLOBEX)


async def test_requests_without_a_known_key_are_401(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, api_keys=TWO_TENANTS)) as (_, client):
        missing = await client.get("/v1/handoffs")
        wrong = await client.get("/v1/handoffs", headers=bearer("not-a-key-of-anyone-at-all"))
        basic = await client.get("/v1/handoffs", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        ok = await client.get("/v1/handoffs", headers=ACME)
        health = await client.get("/healthz")
    assert missing.status_code == wrong.status_code == basic.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert ok.status_code == 200
    assert health.status_code == 200


async def test_another_tenants_conversation_and_handoff_are_404_and_its_person_is_not_reached(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path, api_keys=TWO_TENANTS)) as (_, client):
        first = await client.post(
            "/v1/conversations/shared-id/messages",
            json={"text": "let me talk to a person", "context": {"account_id": "p-1"}},
            headers=ACME,
        )
        assert first.json()["mode"] == "human"
        hid = (await client.get("/v1/handoffs", headers=ACME)).json()["items"][0]["id"]

        read = await client.get("/v1/conversations/shared-id", headers=GLOBEX)
        handoffs = (await client.get("/v1/handoffs", headers=GLOBEX)).json()
        handoff = await client.get(f"/v1/handoffs/{hid}", headers=GLOBEX)
        claim = await client.post(f"/v1/handoffs/{hid}/claim", json={"agent": "eve"}, headers=GLOBEX)
        reply = await client.post(f"/v1/handoffs/{hid}/reply", json={"text": "hi"}, headers=GLOBEX)
        back = await client.post(f"/v1/handoffs/{hid}/return", json={}, headers=GLOBEX)
        event = await client.post(
            "/v1/events", json={"person_id": "p-1", "events": [{"type": "x"}]}, headers=GLOBEX
        )
        by_id = await client.post(
            "/v1/events", json={"conversation_id": "shared-id", "events": [{"type": "x"}]}, headers=GLOBEX
        )
        # The same conversation id is a separate, new conversation for the other tenant.
        own = await client.post(
            "/v1/conversations/shared-id/messages", json={"text": "hello"}, headers=GLOBEX
        )
        acme_view = (await client.get("/v1/conversations/shared-id", headers=ACME)).json()
    assert read.status_code == 404
    assert handoffs["count"] == 0
    assert handoff.status_code == claim.status_code == reply.status_code == back.status_code == 404
    assert by_id.status_code == 404
    # the other tenant's person p-1 is a stranger here: the events are held for GLOBEX, never reach ACME's p-1
    assert event.status_code == 200 and event.json()["conversation_id"] is None
    assert own.json()["turn"] == 1 and own.json()["mode"] == "bot"
    assert acme_view["turn"] == 1 and acme_view["mode"] == "human"
    assert [m["text"] for m in acme_view["messages"] if m["role"] == "user"] == ["let me talk to a person"]
    assert acme_view["state"]["events"] == []


async def test_keys_from_a_keys_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"acme:\n  - {KEY_ACME}\nglobex:\n  - {KEY_GLOBEX}\n", encoding="utf-8")
    async with in_process(service_settings(tmp_path, api_keys_file=keys)) as (_, client):
        ok = await client.get("/v1/handoffs", headers=GLOBEX)
        missing = await client.get("/v1/handoffs")
    assert ok.status_code == 200
    assert missing.status_code == 401


def test_an_invalid_keys_file_fails_at_start_up_with_file_and_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"acme:\n  - {KEY_ACME}\nbad tenant!:\n  - {KEY_GLOBEX}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        create_app(service_settings(tmp_path, api_keys_file=keys))
    assert str(keys) in str(err.value) and ":3:" in str(err.value)


def test_a_short_key_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shorter than 16"):
        create_app(service_settings(tmp_path, api_keys={"acme": ["short"]}))


async def test_tenant_policy_files_override_the_defaults(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies, ignore=shutil.ignore_patterns("tenants"))
    (policies / "tenants" / "acme").mkdir(parents=True)
    taxonomy = (policies / "taxonomy.yaml").read_text(encoding="utf-8")
    assert "out_of_scope:\n  queue: general\n" in taxonomy
    (policies / "tenants" / "acme" / "taxonomy.yaml").write_text(
        # the general queue (out of scope, and a request for a person with no issue yet) becomes acme's own desk
        taxonomy.replace("queue: general\n", "queue: acme_desk\n"),
        encoding="utf-8",
    )
    settings = service_settings(tmp_path, api_keys=TWO_TENANTS, policy_dir=policies)
    async with in_process(settings) as (_, client):
        body = {"text": "let me talk to a person"}
        acme = (await client.post("/v1/conversations/c1/messages", json=body, headers=ACME)).json()
        globex = (await client.post("/v1/conversations/c1/messages", json=body, headers=GLOBEX)).json()
    assert acme["handoff"]["queue"] == "acme_desk"
    assert globex["handoff"]["queue"] == "general"


async def test_without_keys_the_service_is_single_tenant(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="tactful.service"):
        async with in_process(service_settings(tmp_path, tenant="solo")) as (app, client):
            r = await client.post("/v1/conversations/c1/messages", json={"text": "hello"})
            keyring = app.state.services.keyring
    assert r.status_code == 200
    assert keyring.single_tenant and keyring.tenants == ["solo"]
    assert "single-tenant" in caplog.text and "127.0.0.1" in caplog.text
