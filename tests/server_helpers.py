"""Helpers for the service tests: settings on a temporary directory, the app in-process (httpx ASGITransport,
lifespan run), a real ``tactful serve`` process on a free loopback port, and an SSE parser."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tactful.service.app import create_app
from tactful.service.deps import Services
from tactful.settings import Settings

REPO = Path(__file__).resolve().parent.parent
KEY_ACME = "acme-key-0123456789abcdef"
KEY_GLOBEX = "globex-key-0123456789abcdef"
TWO_TENANTS = {"acme": [KEY_ACME], "globex": [KEY_GLOBEX]}


def service_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Offline engine, SQLite under ``data_dir``, no rate limit, no webhook, no keys — unless overridden."""
    values: dict[str, Any] = {
        "DATABASE_URL": None,
        "data_dir": data_dir,
        "engine": "offline",
        "rate_limit_per_minute": 0,
        "webhook_url": None,
        "api_keys": {},
        "api_keys_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def in_process(
    settings: Settings, **app_kwargs: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan running, and a client talking to it in-process."""
    app = create_app(settings, **app_kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tactful.test", timeout=60
        ) as client:
            yield app, client


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``[(event, data), ...]`` from a text/event-stream body."""
    events: list[tuple[str, dict[str, Any]]] = []
    for block in text.strip().split("\n\n"):
        name, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
        if data:
            events.append((name, json.loads(data)))
    return events


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without tactful settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACTFUL_") and k != "DATABASE_URL"}
    env.update(extra)
    return env


class ServerProcess:
    """``tactful serve`` in a child process on a free loopback port."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        log_path: Path,
        port: int | None = None,
        command: list[str] | None = None,
        cwd: Path = REPO,
    ) -> None:
        self.env = env
        self.command = command or [sys.executable, "-m", "tactful.cli"]
        self.cwd = cwd
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready_within_s: float = 120.0) -> ServerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + ready_within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def assert_linear_history(conversation: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    """Every message (by message id) was answered once, turns ran one after another, and the transcript lists
    the user messages in turn order, each followed by its own reply when the bot answered."""
    turns = {mid: r["turn"] for mid, r in results.items()}
    assert sorted(turns.values()) == list(range(1, len(results) + 1)), turns
    messages = conversation["messages"]
    users = [(i, m) for i, m in enumerate(messages) if m["role"] == "user"]
    assert [m["message_id"] for _, m in users] == sorted(turns, key=turns.__getitem__)
    for i, m in users:
        reply = results[m["message_id"]]["reply"]
        if reply:
            assert messages[i + 1]["role"] == "bot" and messages[i + 1]["text"] == reply
    assert [d["turn"] for d in conversation["decisions"]] == list(range(1, len(results) + 1))


def assert_no_forks(parent_ids: list[str | None]) -> None:
    """A checkpoint history is linear: no checkpoint is the parent of two others."""
    seen = [p for p in parent_ids if p is not None]
    assert len(seen) == len(set(seen)), "the checkpoint history forked"
