"""Every error is an RFC 9457 problem (``application/problem+json``) with a stable ``code`` per error; the
OpenAPI document names every operation explicitly and documents every error as a problem; ``/docs`` and
``/redoc`` work with no network (their assets are served by the app)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tactful.service.problems import CODES, MEDIA_TYPE
from tests.server_helpers import KEY_ACME, bearer, in_process, service_settings

HUMAN = {"text": "let me talk to a person"}


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status
    assert body["type"] == f"urn:tactful:problem:{code}" and body["title"] == CODES[code][1]
    assert body["detail"] and "\n" not in body["detail"]
    return body


async def test_each_error_has_its_own_code(tmp_path: Path) -> None:
    settings = service_settings(tmp_path, max_message_chars=50, max_body_bytes=2048)
    async with in_process(settings) as (_, client):
        assert_problem(await client.get("/v1/conversations/ghost"), 404, "conversation_not_found")
        assert_problem(await client.get(f"/v1/handoffs/{'0' * 32}"), 404, "handoff_not_found")
        assert_problem(await client.get("/v1/no-such-route"), 404, "not_found")
        assert_problem(await client.delete("/v1/handoffs"), 405, "method_not_allowed")
        invalid = assert_problem(await client.post("/v1/conversations/c1/messages", json={"text": "  "}), 422,
                                 "invalid_request")
        assert invalid["errors"][0]["field"] == "body.text"
        broken = await client.post(
            "/v1/conversations/c1/messages", content=b'{"text": ', headers={"content-type": "application/json"}
        )
        assert_problem(broken, 422, "invalid_json")
        assert_problem(await client.post("/v1/conversations/c1/messages", json={"text": "x" * 51}), 413,
                       "text_too_long")
        big = await client.post("/v1/conversations/c1/messages", content=b"{" + b" " * 4096 + b"}",
                                headers={"content-type": "application/json"})
        assert_problem(big, 413, "body_too_large")

        await client.post("/v1/conversations/c1/messages", json={"text": "hi", "message_id": "m1"})
        reused = await client.post("/v1/conversations/c1/messages", json={"text": "other", "message_id": "m1"})
        assert_problem(reused, 409, "message_id_reused")

        await client.post("/v1/conversations/h1/messages", json=HUMAN)
        hid = (await client.get("/v1/handoffs")).json()["items"][0]["id"]
        await client.post(f"/v1/handoffs/{hid}/claim", json={"agent": "ana"})
        assert_problem(await client.post(f"/v1/handoffs/{hid}/claim", json={"agent": "bob"}), 409,
                       "handoff_claimed")
        await client.post(f"/v1/handoffs/{hid}/resolve", json={})
        assert_problem(await client.post(f"/v1/handoffs/{hid}/reply", json={"text": "late"}), 409,
                       "handoff_closed")


async def test_auth_and_rate_limit_problems(tmp_path: Path) -> None:
    settings = service_settings(
        tmp_path, api_keys={"acme": [KEY_ACME]}, rate_limit_per_minute=1, rate_limit_burst=1
    )
    async with in_process(settings) as (_, client):
        missing = await client.get("/v1/handoffs")
        assert_problem(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        await client.get("/v1/handoffs", headers=bearer(KEY_ACME))
        limited = await client.get("/v1/handoffs", headers=bearer(KEY_ACME))
        assert_problem(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1


async def test_the_openapi_document_names_every_operation_and_documents_errors_as_problems(
    tmp_path: Path,
) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        doc = (await client.get("/openapi.json")).json()
    operations = {op["operationId"]: (method, path) for path, item in doc["paths"].items()
                  for method, op in item.items()}
    assert set(operations) == {
        "post_message", "stream_message", "get_conversation", "post_events", "list_handoffs", "get_handoff",
        "claim_handoff", "reply_handoff", "resolve_handoff", "return_handoff", "post_marketing_message",
        "healthz", "readyz", "metrics", "console_session", "console_stream",
        "handoff_feedback", "rate_conversation", "metrics_summary",
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert response["content"] == {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (
                        method, path, status)
    assert {"type", "title", "status", "detail", "code"} <= set(doc["components"]["schemas"]["Problem"]["required"])


async def test_docs_and_redoc_load_every_asset_from_the_app_itself(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        for page in ("/docs", "/redoc"):
            html = (await client.get(page)).text
            sources = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert sources, page
            for src in sources:
                assert src.startswith("/"), f"{page} loads {src} from elsewhere"
                asset = await client.get(src)
                assert asset.status_code == 200 and len(asset.content) > 100, src
            assert "fonts.googleapis" not in html and "cdn" not in html.lower()
        assert (await client.get("/docs/oauth2-redirect")).status_code == 200
