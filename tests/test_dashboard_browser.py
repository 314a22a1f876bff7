"""The outcomes dashboard and the console's one-click outcome in a real browser: Debian's chromium through
Playwright, against a real uvicorn process with two tenants. The dashboard shows the caller's tenant's figures
(the same as ``/v1/metrics/summary``) with its charts; the other tenant sees none of them. Screenshots go to
``artifacts/dashboard/``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.server_helpers import REPO, bearer, clean_env, free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "dashboard"
KEY_A = "dash-acme-key-0123456789"
KEY_B = "dash-globex-key-0123456789"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("dashboard-data")
    env = clean_env(TACTFUL_DATA_DIR=str(data), TACTFUL_API_KEYS=json.dumps({"acme": [KEY_A], "globex": [KEY_B]}))
    port = free_port()
    with (data / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError((data / "server.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    p: Playwright
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1366, "height": 900},
        )
        context.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        yield context
        context.close()


@pytest.fixture(scope="module")
def acme(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers=bearer(KEY_A), timeout=60) as client:
        for cid, text, account in [
            ("d1", "You charged me twice this month, I am going to dispute the charge with my bank", "P1"),
            ("d2", "I want to talk to a person please", "P2"),
            ("d3", "How do I reset my password?", "P3"),
            ("d4", "where can I download my invoice", "P3"),
        ]:
            r = client.post(
                f"/v1/conversations/{cid}/messages", json={"text": text, "context": {"account_id": account}}
            )
            assert r.status_code == 200, r.text
        client.post("/v1/conversations/d3/rating", json={"score": 5, "word": "quick"})
        yield client


def handoff_of(api: httpx.Client, cid: str) -> dict[str, Any]:
    items = api.get("/v1/handoffs", params={"conversation_id": cid}).json()["items"]
    assert len(items) == 1
    item: dict[str, Any] = items[0]
    return item


def dashboard(browser: BrowserContext, server: str, key: str) -> Page:
    page = browser.new_page()
    page.goto(f"{server}/console/dashboard")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Open the dashboard").click()
    return page


def shown(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def test_one_click_outcome_in_the_console_then_the_dashboard_shows_the_tenants_figures(
    browser: BrowserContext, server: str, acme: httpx.Client
) -> None:
    # In the console: open the billing handoff and resolve it as "wrong queue" in one click.
    handoff = handoff_of(acme, "d1")
    page = browser.new_page()
    page.goto(f"{server}/console")
    page.get_by_label("API key").fill(KEY_A)
    page.get_by_label("Your name").fill("Sam Lee")
    page.get_by_role("button", name="Open the queue").click()
    page.locator(f'#queue-list li[data-id="{handoff["id"]}"] a').click()
    page.locator("article.detail").get_by_role("button", name="Wrong queue").click()
    expect(page.locator("[data-f=action-status]")).to_contain_text("wrong queue")
    closed = acme.get(f"/v1/handoffs/{handoff['id']}").json()
    assert closed["status"] == "resolved" and closed["assignee"] == "Sam Lee"
    page.close()

    summary = acme.get("/v1/metrics/summary", params={"days": 30}).json()
    assert summary["labels"] == {"wrong_queue": 1}
    page = dashboard(browser, server, KEY_A)
    totals = summary["totals"]
    expect(page.locator("#board-title")).to_have_text("Outcomes · acme")
    expect(page.locator('[data-metric="conversations"] b')).to_have_text(str(totals["conversations"]))
    expect(page.locator('[data-metric="escalation_rate"] b')).to_have_text(shown(totals["escalation_rate"]))
    expect(page.locator('[data-metric="containment_without_regret"] b')).to_have_text(
        shown(totals["containment_without_regret"])
    )
    expect(page.locator('[data-metric="escalation_precision"] b')).to_have_text(shown(totals["escalation_precision"]))
    expect(page.locator('[data-metric="rating_mean"] b')).to_have_text("5.00")
    expect(page.locator("#trend svg[role=img]")).to_have_attribute("data-days", str(len(summary["by_day"])))
    expect(page.locator('#trend path[data-series="escalation_rate"]')).to_have_count(1)
    for intent in summary["by_intent"]:
        expect(page.locator(f'#by-intent rect[data-name="{intent}"]')).to_have_count(1)
    expect(page.locator('#labels rect[data-name="wrong_queue"]')).to_have_count(1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # A filter asks the API again: one intent's figures.
    page.locator("#f-intent").select_option("password_reset")
    expect(page.locator('[data-metric="conversations"] b')).to_have_text("1")
    page.close()


def test_the_dashboard_is_tenant_scoped(browser: BrowserContext, server: str, acme: httpx.Client) -> None:
    page = dashboard(browser, server, KEY_B)
    expect(page.locator("#board-title")).to_have_text("Outcomes · globex")
    expect(page.locator('[data-metric="conversations"] b')).to_have_text("0")
    expect(page.locator("#by-intent")).to_contain_text("None in this window.")
    page.close()
    page = dashboard(browser, server, "not-a-key-of-anyone")
    expect(page.locator("#signin-error")).to_have_text("That key is not valid here.")
    page.close()
