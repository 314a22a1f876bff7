"""No single request holds a worker's event loop: while one turn does seconds of specialist CPU work (a message of
4,000 emoji, which the sentiment lexicon handles slowly), a real ``tactful serve`` keeps answering ``/healthz``.

The bound is relative to a baseline measured in the same run on the same worker, and generous: it separates "the
loop kept serving" (milliseconds) from "the loop was held for the whole turn" (seconds to tens of seconds)."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.server_helpers import ServerProcess, clean_env

pytestmark = pytest.mark.slow

EMOJI_MESSAGE = "\U0001f638" * 4000  # 16 KB: inside the 4,000-character and the body limits


def healthz_seconds(url: str, *, probes: int) -> list[float]:
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(probes):
            started = time.perf_counter()
            assert client.get(f"{url}/healthz").status_code == 200
            out.append(time.perf_counter() - started)
    return out


def test_healthz_stays_fast_while_a_cpu_heavy_turn_runs(tmp_path: Path) -> None:
    env = clean_env(TACTFUL_DATA_DIR=str(tmp_path / "data"), TACTFUL_ENGINE="offline",
                    TACTFUL_RATE_LIMIT_PER_MINUTE="0")
    server = ServerProcess(env, log_path=tmp_path / "serve.log").start()
    try:
        first = httpx.post(f"{server.url}/v1/conversations/warm/messages", json={"text": "hello there"}, timeout=60)
        assert first.status_code == 200
        baseline = healthz_seconds(server.url, probes=10)

        def heavy() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server is killed before this turn ends
                httpx.post(f"{server.url}/v1/conversations/heavy/messages", json={"text": EMOJI_MESSAGE}, timeout=120)

        sender = threading.Thread(target=heavy, daemon=True)
        sender.start()
        time.sleep(0.5)  # the turn is under way: past the input guards, into the sentiment lexicon
        during = healthz_seconds(server.url, probes=10)
        assert sender.is_alive(), "the heavy turn finished before the probes: nothing was measured"
    finally:
        server.kill()
    bound = 10 * max(baseline) + 1.0
    assert statistics.median(during) <= bound and max(during) <= bound, (baseline, during)
