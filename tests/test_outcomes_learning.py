"""Learning from outcomes: a stored turn replayed under the live policy takes the route it took; a shadow
policy records beside every turn what it would have decided, and the summary shows where it diverged and how
those conversations ended; ``tune`` proposes thresholds from people's labels as a diff of the policy file that
reads back as the candidate, and never applies it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tactful.agents.policy.files import SupportPolicy
from tactful.config import load_yaml_model
from tactful.errors import ConfigError
from tactful.graphs.context import build_context
from tactful.service.outcomes.replay import replay, with_policy
from tactful.service.outcomes.store import OutcomeStore
from tactful.service.outcomes.summary import REGRET_H
from tactful.service.outcomes.tune import knobs, proposed_text, set_knob, tune
from tactful.settings import Settings
from tests.server_helpers import REPO, in_process, service_settings

BILLING_DISPUTE = "the amount you billed me is not what I agreed to"
PERSON = "I want to talk to a person please"
ROUTINE = ("How do I reset my password?", "where can I download my invoice", "how do I export my data to csv")


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target, ignore=shutil.ignore_patterns("tenants"))
    return target


def strict_high_risk(policy_dir: Path) -> str:
    """The default policy with escalation for high-risk intents only above 0.999 confidence."""
    text = (policy_dir / "support.yaml").read_text(encoding="utf-8")
    live = "when: {risk: [high], confidence_at_least: 0.8}"  # the high_risk_intent rule
    assert live in text
    return text.replace(live, "when: {risk: [high], confidence_at_least: 0.999}")


async def talk(client: httpx.AsyncClient, cid: str, text: str, account: str) -> dict[str, Any]:
    r = await client.post(f"/v1/conversations/{cid}/messages", json={"text": text, "context": {"account_id": account}})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def label(client: httpx.AsyncClient, cid: str, value: str) -> None:
    items = (await client.get("/v1/handoffs", params={"conversation_id": cid})).json()["items"]
    r = await client.post(f"/v1/handoffs/{items[0]['id']}/feedback", json={"label": value})
    assert r.status_code == 200, r.text


async def window_of(settings: Settings, app: Any, tenant: str = "default") -> Any:
    store: OutcomeStore = app.state.services.outcomes.store
    now = datetime.now(UTC)
    return await store.window(
        tenant,
        since=(now - timedelta(days=1)).isoformat(),
        until=(now + timedelta(minutes=1)).isoformat(),
        regret_until=(now + timedelta(hours=REGRET_H)).isoformat(),
    )


async def test_replaying_under_the_live_policy_takes_every_recorded_route(tmp_path: Path, policy_dir: Path) -> None:
    settings = service_settings(tmp_path, policy_dir=policy_dir)
    async with in_process(settings) as (app, client):
        texts = [BILLING_DISPUTE, PERSON, *ROUTINE, "this is the third time, the export is STILL broken!!"]
        for i, text in enumerate(texts):
            await talk(client, f"c{i}", text, f"A{i}")
        await talk(client, "c5", "still not working, nothing you said helped", "A5")
        window = await window_of(settings, app)
    live = build_context(settings).bundle
    routes = [(replay(live, live, json.loads(r["result"])), r["action"]) for r in window.turns]
    assert len(routes) == len(texts) + 1
    assert [route.action if route else "none" for route, _ in routes] == [action for _, action in routes], routes
    assert {action for _, action in routes} >= {"escalate", "respond"}
    strict = with_policy(live, SupportPolicy.model_validate(yaml.safe_load(strict_high_risk(policy_dir))))
    moved = [replay(strict, live, json.loads(r["result"])) for r in window.turns if r["conversation_id"] == "c0"]
    assert moved[0] is not None and moved[0].action != "escalate"  # the candidate keeps the billing dispute


async def test_a_shadow_policy_records_what_it_would_have_decided(tmp_path: Path, policy_dir: Path) -> None:
    (policy_dir / "shadow").mkdir()
    (policy_dir / "shadow" / "support.yaml").write_text(strict_high_risk(policy_dir), encoding="utf-8")
    settings = service_settings(tmp_path, policy_dir=policy_dir)
    async with in_process(settings) as (_, client):
        live = await talk(client, "c-dispute", BILLING_DISPUTE, "A1")
        await talk(client, "c-pw", ROUTINE[0], "A2")
        await label(client, "c-dispute", "automatable")
        summary = (await client.get("/v1/metrics/summary", params={"days": 1})).json()
    assert live["action"] == "escalate"  # the shadow policy never answers the customer
    shadow = summary["shadow"]
    assert shadow["turns"] == 2 and shadow["diverging_turns"] == 1 and shadow["diverging_conversations"] == 1
    assert list(shadow["divergence"]) == [f"escalate->{k.split('->')[1]}" for k in shadow["divergence"]]
    assert shadow["diverging_outcomes"] == {"automatable": 1}
    assert shadow["policy_version"].startswith("1:")


async def test_an_invalid_shadow_policy_fails_at_start_up_with_its_line(tmp_path: Path, policy_dir: Path) -> None:
    (policy_dir / "shadow").mkdir()
    bad = strict_high_risk(policy_dir).replace("  max_clarifications: 1", "  max_clarifications: 1\n  bogus_knob: 3")
    (policy_dir / "shadow" / "support.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        async with in_process(service_settings(tmp_path, policy_dir=policy_dir)):
            pass
    assert "bogus_knob" in str(info.value) and info.value.line is not None


async def test_tune_proposes_fewer_escalations_when_people_say_they_were_not_needed(
    tmp_path: Path, policy_dir: Path
) -> None:
    settings = service_settings(tmp_path, policy_dir=policy_dir)
    async with in_process(settings) as (app, client):
        for i in range(3):
            assert (await talk(client, f"d{i}", BILLING_DISPUTE, f"D{i}"))["action"] == "escalate"
            await label(client, f"d{i}", "automatable")
            assert (await talk(client, f"h{i}", PERSON, f"H{i}"))["action"] == "escalate"
            await label(client, f"h{i}", "needed")
            await talk(client, f"r{i}", ROUTINE[i], f"R{i}")
        window = await window_of(settings, app)
    live = build_context(settings).bundle
    proposal = tune(live, window, tenant="default", holdout_share=0.0, min_labels=5)
    assert proposal.live["fit"].escalations == 6 and proposal.live["fit"].precision == 0.5
    assert proposal.proposed is not None and proposal.proposed["fit"].escalations == 3
    assert proposal.proposed["fit"].precision == 1.0 and proposal.proposed["fit"].recall == 1.0
    assert {c.conversation_id for c in proposal.changed_conversations} == {"d0", "d1", "d2"}
    assert all(c.factors["intent"] == "billing_dispute" for c in proposal.changed_conversations)
    assert "+version: 2" in proposal.diff and "-version: 1" in proposal.diff
    # the diff's file reads back as exactly the candidate, and the live file is untouched
    text = (policy_dir / "support.yaml").read_text(encoding="utf-8")
    written = tmp_path / "proposed.yaml"
    written.write_text(proposed_text(text, live.policy, proposal.changes), encoding="utf-8")
    expected = live.policy
    for knob in knobs(live.policy):
        if knob.name in proposal.changes:
            expected = set_knob(expected, knob, proposal.changes[knob.name])
    assert load_yaml_model(written, SupportPolicy) == expected.model_copy(update={"version": 2})
    assert (policy_dir / "support.yaml").read_text(encoding="utf-8") == text
    index = next(i for i, rule in enumerate(live.policy.rules) if rule.id == "high_risk_intent")
    assert any(c.knob == f"rules.{index}.when.confidence_at_least" for c in proposal.candidates)


async def test_tune_makes_no_proposal_without_enough_labels(tmp_path: Path, policy_dir: Path) -> None:
    settings = service_settings(tmp_path, policy_dir=policy_dir)
    async with in_process(settings) as (app, client):
        await talk(client, "d0", BILLING_DISPUTE, "D0")
        window = await window_of(settings, app)
    proposal = tune(build_context(settings).bundle, window, tenant="default", holdout_share=0.0, min_labels=5)
    assert proposal.proposed is None and proposal.diff == "" and "labelled" in proposal.note
    assert proposal.candidates  # the candidates are still scored
