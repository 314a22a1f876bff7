"""The container deployment: the Dockerfile and compose.yaml describe two workers on one PostgreSQL with Redis for
the rate limit; with a Docker engine, ``docker compose up --build --wait`` brings them up and a conversation
started on one worker is read and continued on the other. Without an engine the smoke test skips, saying so."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tactful.config import load_yaml_model
from tactful.service.auth import KeysFile
from tests import REPO_ROOT

COMPOSE = REPO_ROOT / "compose.yaml"
WORKERS = {"tactful-1": "http://127.0.0.1:8001", "tactful-2": "http://127.0.0.1:8002"}


def compose_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def test_compose_runs_two_workers_on_one_postgres_and_redis() -> None:
    services = compose_file()["services"]
    assert set(services) == {"tactful-1", "tactful-2", "postgres", "redis"}
    for name in WORKERS:
        worker = services[name]
        env = worker["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["TACTFUL_REDIS_URL"] == "redis://redis:6379/0"
        assert worker["depends_on"] == {
            "postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}
        }
        assert worker["build"] == "."
    assert {services[n]["ports"][0].rsplit(":", 1)[0] for n in WORKERS} == {"127.0.0.1:8001", "127.0.0.1:8002"}
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]


def test_the_demo_keys_file_is_valid_and_the_image_serves_on_all_interfaces() -> None:
    keys = load_yaml_model(REPO_ROOT / "deploy" / "api-keys.yaml", KeysFile)
    assert keys.root  # a keyed service may listen beyond loopback
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["tactful", "serve", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile
    assert "USER tactful" in dockerfile and "HEALTHCHECK" in dockerfile


def docker_engine() -> str | None:
    """Why the smoke test cannot run, or None when a Docker engine with compose answers."""
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no docker command ({exc})"
    if info.returncode != 0:
        return "no Docker engine (`docker info` failed: " + (info.stderr.strip().splitlines() or ["?"])[-1] + ")"
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    if version.returncode != 0:
        return "no `docker compose` plugin"
    return None


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    why = docker_engine()
    if why:
        pytest.skip(f"compose smoke test not run: {why}")
    project = f"tactful-smoke-{uuid.uuid4().hex[:8]}"
    base = ["docker", "compose", "-f", str(COMPOSE), "-p", project]
    try:
        subprocess.run([*base, "up", "--build", "--wait", "--detach"], check=True, timeout=1800, cwd=REPO_ROOT)
        yield project
    finally:
        subprocess.run([*base, "down", "--volumes", "--remove-orphans"], timeout=300, cwd=REPO_ROOT)


@pytest.mark.slow
def test_compose_comes_up_and_both_workers_share_conversations(stack: str) -> None:
    key = {"Authorization": "Bearer demo-key-change-me-0123456789"}
    for url in WORKERS.values():
        for _ in range(60):
            try:
                if httpx.get(f"{url}/readyz", timeout=5).json().get("database") == "postgres":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail(f"{url} never became ready on PostgreSQL")
    first = httpx.post(f"{WORKERS['tactful-1']}/v1/conversations/smoke/messages", headers=key,
                       json={"text": "I forgot my password", "message_id": "m1"}, timeout=60)
    assert first.status_code == 200 and first.json()["reply"]
    second = httpx.post(f"{WORKERS['tactful-2']}/v1/conversations/smoke/messages", headers=key,
                        json={"text": "let me talk to a person", "message_id": "m2"}, timeout=60)
    assert second.json()["turn"] == 2 and second.json()["mode"] == "human"
    handoffs = httpx.get(f"{WORKERS['tactful-1']}/v1/handoffs", headers=key, timeout=30).json()
    assert [h["conversation_id"] for h in handoffs["items"]] == ["smoke"]
    assert httpx.get(f"{WORKERS['tactful-2']}/v1/conversations/smoke", headers=key, timeout=30).json()["turn"] == 2
