"""The service as a real ``tactful serve`` (uvicorn) process on a loopback port, on SQLite: it answers, a
killed (SIGKILL) and restarted server resumes the conversation, and two processes sharing one data directory
still run one turn at a time per conversation."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from tactful.cli import main
from tests.server_helpers import ServerProcess, assert_linear_history, assert_no_forks, clean_env


def env_for(data_dir: Path) -> dict[str, str]:
    return clean_env(TACTFUL_DATA_DIR=str(data_dir), TACTFUL_RATE_LIMIT_PER_MINUTE="0")


def test_two_processes_share_one_sqlite_file_and_a_killed_one_resumes_after_restart(tmp_path: Path) -> None:
    """Concurrent messages to one conversation through two processes: each answered once, in a linear history;
    then one process is SIGKILLed and restarted, and the conversation goes on where it was."""
    env = env_for(tmp_path / "data")
    servers = [ServerProcess(env, log_path=tmp_path / f"server{i}.log").start() for i in range(2)]
    n = 16

    def post(i: int, server: ServerProcess | None = None) -> httpx.Response:
        url = (server or servers[i % 2]).url
        body = {"text": f"where is my order number {i}", "message_id": f"m{i}"}
        return httpx.post(f"{url}/v1/conversations/shared/messages", json=body, timeout=60)

    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            responses = list(pool.map(post, range(n)))
        servers[0].kill()
        retry = post(0, servers[1])
        servers[0].start()
        after = post(n, servers[0])
        conversation = httpx.get(f"{servers[0].url}/v1/conversations/shared", timeout=30).json()
    finally:
        for s in servers:
            s.stop()
    assert [r.status_code for r in responses] == [200] * n
    assert retry.json() == responses[0].json()
    assert after.status_code == 200 and after.json()["turn"] == n + 1
    results = {f"m{i}": r.json() for i, r in enumerate([*responses, after])}
    assert_linear_history(conversation, results)
    with sqlite3.connect(tmp_path / "data" / "tactful.db") as db:
        parents = [row[0] for row in db.execute("SELECT parent_checkpoint_id FROM checkpoints")]
    assert_no_forks(parents)


def test_serve_refuses_a_public_address_without_api_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TACTFUL_API_KEYS", "TACTFUL_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    code = main(["serve", "--host", "0.0.0.0", "--port", "8999"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no API keys configured" in err and "127.0.0.1" in err
    assert "Traceback" not in err


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that hangs on the first delivery (so the first server dies holding it) and accepts the
    rest, recording each delivery id."""

    deliveries: ClassVar[list[str]] = []
    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        first = not self.deliveries
        self.deliveries.append(self.headers["X-Tactful-Delivery"])
        if first:
            self.release.wait(timeout=30)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_handoff_webhook_in_flight_when_the_server_is_killed_is_sent_by_the_restarted_one(
    tmp_path: Path,
) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = clean_env(
        TACTFUL_DATA_DIR=str(tmp_path / "data"),
        TACTFUL_WEBHOOK_URL=f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        TACTFUL_WEBHOOK_SECRET="s3cret",
        TACTFUL_WEBHOOK_TIMEOUT_S="2",
        TACTFUL_WEBHOOK_MAX_ATTEMPTS="1",
        TACTFUL_WEBHOOK_SWEEP_S="0.5",
    )
    server = ServerProcess(env, log_path=tmp_path / "server.log").start()
    try:
        turn = httpx.post(f"{server.url}/v1/conversations/k1/messages", json={"text": "let me talk to a person"},
                          timeout=60)
        assert turn.json()["action"] == "escalate"
        for _ in range(100):  # the delivery reached the receiver, which holds it
            if _Receiver.deliveries:
                break
            time.sleep(0.05)
        server.kill()
        _Receiver.release.set()
        server.start()
        handoffs: list[dict[str, object]] = []
        for _ in range(200):  # the lease (2 s of delivery + 2 s) runs out, then a sweep sends it again
            handoffs = httpx.get(f"{server.url}/v1/handoffs", timeout=30).json()["items"]
            if handoffs and handoffs[0]["webhook"] == "delivered":
                break
            time.sleep(0.1)
    finally:
        server.stop()
        receiver.shutdown()
        receiver.server_close()
    assert handoffs and handoffs[0]["webhook"] == "delivered"
    assert _Receiver.deliveries == [handoffs[0]["id"], handoffs[0]["id"]]  # the same delivery id, twice
