"""The marketing output guard checks whatever wrote the draft: templates, a model, or a scripted fake."""

from __future__ import annotations

from tactful.agents.engine.scripted import ScriptedEngine
from tactful.agents.engine.seam import CopyResult
from tactful.agents.marketing.checker import check
from tactful.agents.marketing.guard import check_draft
from tactful.agents.marketing.signals import fold_signals
from tests.marketing_helpers import SEND_AT, decide, event, lost_power_user, request, service


def _codes(draft: str, req_events: list[dict[str, object]] | None = None, **fields: object) -> list[str]:
    req = request(events=req_events, **fields)  # type: ignore[arg-type]
    ctx = service().context_for("default")
    signals = fold_signals(req, ctx.policy, ctx.reasoner, now=SEND_AT)
    verdict = check(req, signals, ctx.policy, explain=ctx.templates.explanations)
    found = check_draft(
        CopyResult(subject="Hi", body=draft), request=req, verdict=verdict, signals=signals, policy=ctx.policy
    )
    return [f.code for f in found]


def test_promotional_text_during_a_hold_is_caught() -> None:
    codes = _codes("Check out our newest feature!", [event("failed_payment", hours=3)], campaign="api_help")
    assert "promo_during_hold" in codes


def test_discount_text_is_caught_when_the_campaign_offers_none() -> None:
    assert "discount_not_allowed" in _codes("Get 10% off today")


def test_discount_above_the_limit_is_caught() -> None:
    assert "discount_over_limit" in _codes("Come back with 40% off", campaign="winback")


def test_inviting_contact_on_an_opted_out_channel_contradicts_consent() -> None:
    codes = _codes("Text us any time.", profile={"consent": {"email": "granted", "sms": "opted_out"}})
    assert codes == ["contradicts_consent"]


def test_personal_data_in_a_draft_is_caught() -> None:
    assert "personal_data" in _codes("Your card 4111 1111 1111 1111 is on file")


def test_a_clean_draft_passes() -> None:
    assert _codes("Automations are here. Try them: https://example.com/automations") == []


async def test_model_draft_with_a_discount_for_a_lost_customer_is_replaced_by_the_safe_template() -> None:
    writer = ScriptedEngine(copies=["Don't go! Here is 20% off if you stay."])
    d = await decide(lost_power_user(), engine=writer)
    assert d.action == "send" and d.message is not None
    assert d.message.source == "offline" and "Invoices" in d.message.body
    assert {g.code for g in d.guards} >= {"discount_not_allowed", "promo_to_struggling"}
    assert all(g.fixed for g in d.guards)
    (call,) = writer.calls_of("write_copy")
    assert call.answered_by == "script" and "discount" in call.request.avoid  # type: ignore[union-attr]
    writer.assert_used_up()


async def test_model_draft_that_passes_is_sent_as_written() -> None:
    writer = ScriptedEngine(
        copies=[
            CopyResult(
                subject="Automations", body="Automations are live: https://example.com", source="scripted"
            )
        ]
    )
    d = await decide(request(), engine=writer)
    assert d.message is not None and d.message.source == "scripted" and d.guards == []


async def test_a_draft_that_cannot_be_made_safe_suppresses_the_send() -> None:
    writer = ScriptedEngine(copies=[CopyResult(subject="Hi", body="x" * 400, source="scripted")])
    req = request(channel="sms", profile={"consent": {"sms": "granted"}})
    data = req.model_dump(mode="json")
    data["campaign"]["content"]["link"] = "https://example.com/" + "a" * 400  # too long for an SMS either way
    d = await decide(type(req).model_validate(data), engine=writer)
    assert (d.action, d.reason, d.rule) == ("suppress", "guard_blocked", "too_long")
    assert d.message is None and not d.guards[0].fixed
