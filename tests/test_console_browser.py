"""The agent console in a real browser: Debian's chromium, driven by Playwright, against a real uvicorn
process (``server:app``) on a free loopback port, with a temporary SQLite data dir and one tenant's API key.

Screenshots of the queue and the detail view (desktop and phone width) and the measured time for a new handoff
to show up in an open console are written to ``artifacts/console/``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, ViewportSize, expect, sync_playwright

from tests.server_helpers import REPO, bearer, clean_env, free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "console"
KEY = "console-test-key-0123456789"
AGENT = "Alex Morgan"
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT_MS = 30_000  # generous: the test machine is shared; nothing here asserts on time


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``uvicorn server:app`` in a child process on a free loopback port, SQLite in a temporary data dir."""
    data = tmp_path_factory.mktemp("console-data")
    env = clean_env(TACTFUL_DATA_DIR=str(data), TACTFUL_API_KEYS=json.dumps({"acme": [KEY]}))
    port = free_port()
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "server:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        while httpx_ready(server) is False:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def httpx_ready(server: Server) -> bool:
    try:
        return httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (bash .ci/run installs it)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=DESKTOP,
        reduced_motion="reduce",
    )
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    yield context
    context.close()


@pytest.fixture(scope="module")
def latencies() -> Iterator[list[float]]:
    """Milliseconds from a handoff's creation (its row's timestamp) to its first render in an open console."""
    samples: list[float] = []
    yield samples
    if samples:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        report = {
            "what": "ms from a handoff's created_at (server) to its first render in an open console",
            "poll_interval_s": 0.5,
            "n": len(samples),
            "samples_ms": [round(s, 1) for s in samples],
            "median_ms": round(statistics.median(samples), 1),
            "max_ms": round(max(samples), 1),
        }
        (ARTIFACTS / "latency.json").write_text(json.dumps(report, indent=2) + "\n")


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=bearer(KEY), timeout=60) as client:
        yield client


def say(api: httpx.Client, conversation: str, text: str, **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text}
    if context:
        body["context"] = context
    response = api.post(f"/v1/conversations/{conversation}/messages", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def handoff_of(api: httpx.Client, conversation: str) -> dict[str, Any]:
    items = api.get("/v1/handoffs", params={"conversation_id": conversation}).json()["items"]
    assert len(items) == 1, items
    handoff: dict[str, Any] = items[0]
    return handoff


def open_console(browser: BrowserContext, server: Server, *, key: str = KEY) -> Page:
    page = browser.new_page()
    page.set_viewport_size(DESKTOP)
    page.goto(f"{server.url}/console")
    page.get_by_label("API key").fill(key)
    page.get_by_label("Your name").fill(AGENT)
    page.get_by_role("button", name="Open the queue").click()
    return page


def signed_in(browser: BrowserContext, server: Server) -> Page:
    page = open_console(browser, server)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    return page


def shown_after_ms(page: Page, handoff: dict[str, Any]) -> float:
    item = page.locator(f'#queue-list li[data-id="{handoff["id"]}"]')
    expect(item).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    first_shown_ms = float(item.get_attribute("data-first-shown") or "nan")
    return first_shown_ms - datetime.fromisoformat(handoff["created_at"]).timestamp() * 1000


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


# ------------------------------------------------------------------------------------------------------ tests


def test_sign_in_with_an_unknown_key_is_refused(browser: BrowserContext, server: Server) -> None:
    page = open_console(browser, server, key="not-the-key-of-any-tenant")
    expect(page.locator("#signin-error")).to_have_text("That API key is not accepted by this service.")
    expect(page.locator("#workspace")).to_be_hidden()
    page.close()


def test_agent_claims_replies_and_returns_an_escalated_conversation_to_the_bot(
    browser: BrowserContext, server: Server, api: httpx.Client, latencies: list[float]
) -> None:
    page = signed_in(browser, server)

    # The customer's conversation escalates through the API while the console is open.
    say(api, "priya", "I forgot my password and the reset email never arrives",
        name="Priya Raman", account_id="acct-2093", tier="pro", value=1800, channel="mobile", device="mobile",
        sales_region="emea")
    say(api, "priya", "I already did that twice, still no email")
    escalated = say(api, "priya", "This is the THIRD time. It still does not work!! I need a real person")
    assert (escalated["mode"], escalated["action"]) == ("human", "escalate")
    handoff = handoff_of(api, "priya")

    # It appears in the queue without a reload, with its priority, queue, reason, wait and mood.
    latencies.append(shown_after_ms(page, handoff))
    item = page.locator(f'#queue-list li[data-id="{handoff["id"]}"]')
    expect(item.locator("[data-f=priority]")).to_have_text(handoff["priority"])
    expect(item.locator("[data-f=reason]")).to_have_text("The customer asked for a person")
    expect(item.locator("[data-f=waiting]")).to_contain_text("waiting")
    expect(item.locator("[data-f=mood]")).not_to_be_empty()

    # The detail view shows the packet at a glance and the whole transcript.
    item.locator("a").click()
    detail = page.locator("article.detail")
    expect(detail.locator("#detail-title")).to_contain_text("Priya Raman")
    expect(detail.locator("[data-f=summary]")).to_have_text(handoff["packet"]["summary"])
    expect(detail.locator("[data-f=next-step]")).to_have_text(handoff["packet"]["recommended_next_step"])
    sentiment = api.get("/v1/conversations/priya").json()["state"]["sentiment"]
    points = ", ".join(f"{h['frustration']:.2f}" for h in sentiment["history"])
    chart_label = f"Frustration by customer turn, 0 to 1: {points}. Trend: {sentiment['trend']}."
    expect(detail.locator("[data-f=chart] svg[role=img]")).to_have_attribute("aria-label", chart_label)
    expect(detail.locator("[data-f=account]")).to_contain_text("acct-2093")
    expect(detail.locator("[data-f=account]")).to_contain_text("Sales regionemea")  # the tenant's own attribute
    expect(detail.locator("[data-f=tried] li").first).not_to_be_empty()
    expect(detail.locator("[data-f=mode]")).to_have_text("human")
    expect(detail.locator(".msg[data-role=user]")).to_have_count(3)

    # Claim.
    detail.get_by_role("button", name="Claim").click()
    expect(detail.get_by_role("button", name="Claimed by you")).to_be_disabled()
    claimed = api.get(f"/v1/handoffs/{handoff['id']}").json()
    assert (claimed["status"], claimed["assignee"]) == ("claimed", AGENT)

    # Reply as a person: the reply reaches the conversation.
    reply = "Hi Priya, I've re-sent the reset link to your verified address; it arrives within a minute."
    page.get_by_label("Reply to the customer as").fill(reply)
    page.get_by_role("button", name="Send reply").click()
    expect(detail.locator(".msg[data-role=human_agent]").last).to_contain_text(reply)
    conversation = api.get("/v1/conversations/priya").json()
    last = conversation["messages"][-1]
    assert (last["role"], last["text"]) == ("human_agent", reply)
    assert conversation["mode"] == "human"

    # While a person owns it the bot stays silent; the customer's message shows up in the open detail view.
    silent = say(api, "priya", "Got it, checking my inbox now")
    assert (silent["mode"], silent["action"], silent["reply"]) == ("human", "none", None)
    expect(detail.locator(".msg[data-role=user]").last).to_contain_text("checking my inbox now")
    page.locator("#detail-pane").evaluate("pane => { pane.scrollTop = 0; }")
    shoot(page, "detail-desktop.png")
    page.locator("#detail-pane").evaluate("pane => { pane.scrollTop = pane.scrollHeight; }")
    shoot(page, "detail-desktop-transcript.png")

    # Return to the bot: the conversation's mode changes for real, and the next message gets a bot reply.
    detail.get_by_role("button", name="Return to bot").click()
    expect(page.locator("[data-f=action-status]")).to_contain_text("Returned to the bot")
    expect(page.locator("[data-f=mode]")).to_have_text("bot")
    assert api.get("/v1/conversations/priya").json()["mode"] == "bot"
    assert api.get(f"/v1/handoffs/{handoff['id']}").json()["status"] == "returned"
    after = say(api, "priya", "It arrived, thanks. How do I turn on two-factor authentication?")
    assert after["mode"] == "bot" and after["action"] in ("respond", "assist", "clarify")
    assert after["reply"]
    expect(page.locator(".msg[data-role=bot]").last).to_contain_text(after["reply"].splitlines()[0])
    page.close()


def test_queue_shows_new_handoffs_live_and_filters_by_queue(
    browser: BrowserContext, server: Server, api: httpx.Client, latencies: list[float]
) -> None:
    page = signed_in(browser, server)
    say(api, "marco", "Someone used my card, there are unauthorized charges on my account",
        name="Marco Bellini", account_id="acct-0007", tier="vip", value=120000, channel="web")
    say(api, "dana", "Your product deleted our data, our lawyer will be in touch about legal action",
        name="Dana Whitfield", account_id="acct-4411", tier="business", value=62000)
    say(api, "sam", "Can you recommend a good pizza place near me?")
    say(api, "sam", "ok whatever, can a human help?")
    handoffs = {cid: handoff_of(api, cid) for cid in ("marco", "dana", "sam")}
    for handoff in handoffs.values():
        latencies.append(shown_after_ms(page, handoff))

    fraud_queue = handoffs["marco"]["queue"]
    page.get_by_label("Queue", exact=True).select_option(fraud_queue)
    expect(page.locator("#queue-list li")).to_have_count(1)
    expect(page.locator(f'#queue-list li[data-id="{handoffs["marco"]["id"]}"]')).to_be_visible()
    page.get_by_label("Queue", exact=True).select_option("")
    for handoff in handoffs.values():
        expect(page.locator(f'#queue-list li[data-id="{handoff["id"]}"]')).to_be_visible()
    first = page.locator("#queue-list li").first
    assert first.get_attribute("data-priority") == "urgent"  # most urgent first
    shoot(page, "queue-desktop.png")
    page.close()


def test_console_works_at_phone_width(browser: BrowserContext, server: Server, api: httpx.Client) -> None:
    page = signed_in(browser, server)
    page.set_viewport_size(PHONE)
    say(api, "lee", "My account is locked and I can't access anything, my team is blocked",
        name="Lee Chen", tier="enterprise", value=80000, device="mobile", channel="mobile")
    handoff = handoff_of(api, "lee")
    item = page.locator(f'#queue-list li[data-id="{handoff["id"]}"]')
    expect(item).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal scroll"
    shoot(page, "queue-phone.png")

    item.locator("a").click()
    expect(page.locator("#queue-pane")).to_be_hidden()
    expect(page.locator("article.detail [data-f=summary]")).to_have_text(handoff["packet"]["summary"])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal scroll"
    shoot(page, "detail-phone.png", full_page=True)

    page.get_by_role("button", name="Back to queue").click()
    expect(page.locator("#queue-pane")).to_be_visible()
    page.close()


def test_keyboard_alone_opens_and_claims_a_handoff(
    browser: BrowserContext, server: Server, api: httpx.Client
) -> None:
    page = signed_in(browser, server)
    say(api, "kim", "please let me talk to a human agent", name="Kim Osei")
    handoff = handoff_of(api, "kim")
    expect(page.locator(f'#queue-list li[data-id="{handoff["id"]}"]')).to_be_visible()

    def tab_until(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_until(".queue-link")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "no focus ring"
    target = f'#queue-list li[data-id="{handoff["id"]}"] a'
    for _ in range(page.locator(".queue-link").count()):
        if page.evaluate("(s) => document.activeElement.matches(s)", target):
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_be_focused()
    tab_until('button[data-action="claim"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Claimed by you")).to_be_visible()
    assert api.get(f"/v1/handoffs/{handoff['id']}").json()["assignee"] == AGENT
    page.close()


CONTRAST_JS = """
() => {
  const rgba = (s) => { const m = s.match(/[\\d.]+/g) || []; return m.length >= 3
      ? [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1] : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const c = [r, g, b].map((v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const background = (el) => { const layers = [];
    for (let n = el; n; n = n.parentElement) { const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c); if (c[3] >= 1) break; }
    return layers.reverse().reduce((acc, c) => over(c, acc), [255, 255, 255]); };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const el = t.parentElement;
    if (!t.textContent.trim() || !el || !el.checkVisibility() || el.closest(".visually-hidden")) continue;
    if (el.closest("button:disabled, option")) continue;  // inactive controls are exempt (WCAG 1.4.3)
    const style = getComputedStyle(el);
    const fg = rgba(el instanceof SVGElement ? style.fill : style.color);
    const bg = background(el);
    const [a, b] = [lum(over(fg, bg)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize); const bold = parseInt(style.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) failures.push(`${ratio.toFixed(2)} < ${need}: "${t.textContent.trim().slice(0, 40)}"`);
  }
  return failures;
}
"""


def test_visible_text_meets_wcag_aa_contrast(
    browser: BrowserContext, server: Server, api: httpx.Client
) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/console")
    expect(page.get_by_label("API key")).to_be_visible()
    sign_in_failures = page.evaluate(CONTRAST_JS)
    page.close()

    page = signed_in(browser, server)
    say(api, "ana", "I want to speak to a person about my invoice", name="Ana Silva", tier="pro", value=2400)
    handoff = handoff_of(api, "ana")
    page.locator(f'#queue-list li[data-id="{handoff["id"]}"] a').click()
    expect(page.locator("article.detail [data-f=summary]")).not_to_be_empty()
    workspace_failures = page.evaluate(CONTRAST_JS)
    page.close()
    assert sign_in_failures == [] and workspace_failures == []
