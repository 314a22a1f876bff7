"""No single request holds a worker's event loop: while one request does seconds of specialist CPU work (a message
of emoji, which the sentiment lexicon handles slowly — as a support turn, or as a person's words in a marketing
request), a real ``tactful serve`` keeps answering ``/healthz``.

The bound is relative to a baseline measured in the same run on the same worker, and generous: it separates "the
loop kept serving" (milliseconds) from "the loop was held for the whole request" (seconds to tens of seconds)."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.marketing_helpers import CAMPAIGNS
from tests.server_helpers import ServerProcess, clean_env

pytestmark = pytest.mark.slow

EMOJI = "\U0001f638"
RECENT = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
HEAVY: dict[str, tuple[str, dict[str, Any]]] = {
    # 16 KB: inside the 4,000-character and the body limits
    "support turn": ("/v1/conversations/heavy/messages", {"text": EMOJI * 4000}),
    "marketing request": (
        "/v1/marketing/messages",
        {
            "profile": {"person_id": "p1", "consent": {"email": "granted"}},
            "events": [{"type": "support_conversation", "at": RECENT, "text": EMOJI * 4000}],
            "campaign": CAMPAIGNS["feature"],
        },
    ),
}


def healthz_seconds(url: str, *, probes: int) -> list[float]:
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(probes):
            started = time.perf_counter()
            assert client.get(f"{url}/healthz").status_code == 200
            out.append(time.perf_counter() - started)
    return out


@pytest.mark.parametrize("kind", sorted(HEAVY))
def test_healthz_stays_fast_while_a_cpu_heavy_request_runs(tmp_path: Path, kind: str) -> None:
    path, body = HEAVY[kind]
    env = clean_env(TACTFUL_DATA_DIR=str(tmp_path / "data"), TACTFUL_ENGINE="offline",
                    TACTFUL_RATE_LIMIT_PER_MINUTE="0")
    server = ServerProcess(env, log_path=tmp_path / "serve.log").start()
    try:
        first = httpx.post(f"{server.url}/v1/conversations/warm/messages", json={"text": "hello there"}, timeout=60)
        assert first.status_code == 200
        baseline = healthz_seconds(server.url, probes=10)

        def heavy() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server is killed before this request ends
                httpx.post(f"{server.url}{path}", json=body, timeout=120)

        sender = threading.Thread(target=heavy, daemon=True)
        sender.start()
        time.sleep(0.05)  # the request is under way: validated, into the specialists
        during = healthz_seconds(server.url, probes=10)
    finally:
        server.kill()
    bound = 10 * max(baseline) + 1.0
    assert statistics.median(during) <= bound and max(during) <= bound, (baseline, during)
