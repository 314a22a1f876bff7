"""The processes a loopback benchmark drives: the fake OpenAI-compatible model and one ``tactful serve`` worker,
each on a free 127.0.0.1 port, started clean (no ``TACTFUL_*`` of the caller's) and stopped on the way out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tactful.bench.fake_openai import free_port

STARTUP_S = 120.0


def clean_env(**extra: str) -> dict[str, str]:
    # The worker runs on defaults, except the checkpoint durability, which is what one compares across runs.
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith("TACTFUL_") or k == "TACTFUL_DURABILITY") and k != "DATABASE_URL"
    }
    env.update(extra)
    return env


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, *, within_s: float = STARTUP_S) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}: {tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not ready after {within_s:.0f} s: {tail(log)}")


def tail(log: Path, lines: int = 5) -> str:
    """The last lines of a process log, on one line."""
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def _process(args: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, ready_url, log)
        yield proc
    finally:
        _stop(proc)


@contextmanager
def fake_model(latency_ms: float, log: Path) -> Iterator[str]:
    """The fake OpenAI-compatible server in its own process; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    args = [sys.executable, "-m", "tactful.bench.fake_openai", "--port", str(port), "--latency-ms", str(latency_ms)]
    with _process(args, clean_env(), f"{base}/models", log):
        yield base


@contextmanager
def service(model_base_url: str | None, data_dir: Path, log: Path, *, database_url: str | None,
            schema: str | None, env: Mapping[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One ``tactful serve`` worker on a free loopback port: the openai engine pointed at ``model_base_url``, or
    the offline engine when that is ``None``; ``env`` adds settings (``TACTFUL_*``)."""
    port = free_port()
    settings = {"TACTFUL_DATA_DIR": str(data_dir), "TACTFUL_RATE_LIMIT_PER_MINUTE": "0"}
    if model_base_url is None:
        settings["TACTFUL_ENGINE"] = "offline"
    else:
        settings.update(TACTFUL_ENGINE="openai", TACTFUL_OPENAI_BASE_URL=model_base_url,
                        TACTFUL_OPENAI_API_KEY="bench")
    if database_url:
        settings["DATABASE_URL"] = database_url
        if schema:
            settings["TACTFUL_DATABASE_SCHEMA"] = schema
    settings.update(env or {})
    args = [sys.executable, "-m", "tactful.cli", "serve", "--port", str(port), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}"
    with _process(args, clean_env(**settings), f"{url}/readyz", log) as proc:
        yield url, proc


def drop_schema(database_url: str, schema: str) -> None:
    """Remove a throw-away PostgreSQL schema and everything in it."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
