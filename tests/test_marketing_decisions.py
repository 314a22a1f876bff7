"""Every decision path of the marketing generator, the seeds' two people, concierge alerts and rep packets."""

from __future__ import annotations

import pytest

from tactful.agents.marketing.alerts import ALERT_KIND, InMemoryAlertSink
from tests.marketing_helpers import (
    SEND_AT,
    decide,
    event,
    factor,
    finished_customer,
    lost_power_user,
    request,
    service,
)

# --------------------------------------------------------------------------- the seeds' two people


async def test_lost_power_user_on_cancel_page_gets_help_finding_invoices_not_a_discount() -> None:
    d = await decide(lost_power_user())
    assert (d.action, d.reason, d.rule) == ("send", "send_help", "invoices")
    assert d.state == "leaving"
    assert d.message is not None and d.message.kind == "help"
    assert "Settings → Billing → Invoices" in d.message.body
    assert "%" not in d.message.body and "discount" not in d.message.body.lower()
    assert "reply and a person" in d.message.body


async def test_customer_with_failed_billings_and_open_tickets_is_routed_to_a_human_without_discount() -> None:
    sink = InMemoryAlertSink()
    d = await decide(finished_customer(), sink=sink)
    assert (d.action, d.reason) == ("route_to_rep", "leaving_after_failures")
    assert d.message is None
    packet = d.rep_packet
    assert packet is not None
    assert "discount" in packet.do_not_offer
    assert packet.queue == "retention" and packet.priority == "urgent"
    assert sum("failed payment" in line for line in packet.friction) == 3
    assert sum("unresolved support" in line for line in packet.friction) == 2
    assert any("Third time asking" in line for line in packet.asked)
    assert d.concierge is not None and d.concierge.delivered


async def test_the_two_people_on_the_same_cancellation_visit_get_different_decisions() -> None:
    a, b = await decide(lost_power_user()), await decide(finished_customer())
    assert (a.action, b.action) == ("send", "route_to_rep")


# --------------------------------------------------------------------------- suppress: holds


@pytest.mark.parametrize(
    ("events", "rule"),
    [
        ([event("failed_payment", hours=30)], "failed_payment"),
        (
            [event("support_conversation", hours=40, outcome="unresolved", text="still broken")],
            "negative_support",
        ),
        ([event("handoff", hours=5)], "handoff"),
        ([event("api_error_burst", hours=3, count=3)], "error_burst"),
        ([event("product_error", hours=2, count=3)], "product_errors"),
    ],
)
async def test_hold_suppresses_promotion_after_negative_event(
    events: list[dict[str, object]], rule: str
) -> None:
    d = await decide(request(events=events))
    assert (d.action, d.reason, d.rule) == ("suppress", "hold", rule)
    assert d.message is None
    assert rule in str(factor(d, "holds"))


async def test_hold_ends_when_its_window_has_passed() -> None:
    d = await decide(request(events=[event("failed_payment", hours=24 * 6)]))
    assert d.action == "send"


async def test_hold_is_lifted_by_a_recovered_payment() -> None:
    d = await decide(request(events=[event("failed_payment", hours=30), event("payment_recovered", hours=2)]))
    assert d.reason != "hold"


async def test_help_campaign_during_a_hold_is_sent_as_a_service_message_without_promotion() -> None:
    d = await decide(request(campaign="api_help", events=[event("api_error_burst", hours=3, count=5)]))
    assert (d.action, d.reason) == ("send", "send_service")
    assert d.message is not None and d.message.kind == "help"
    assert "troubleshooting" in d.message.body.lower()
    assert d.guards == []


async def test_high_frustration_in_the_persons_own_words_holds_promotion() -> None:
    d = await decide(
        request(
            events=[
                event("email_reply", hours=3, text="This is useless garbage, I am fed up!! Worst tool ever.")
            ]
        )
    )
    assert (d.action, d.reason, d.rule) == ("suppress", "hold", "high_frustration")


# --------------------------------------------------------------------------- suppress: consent


async def test_person_opted_out_of_the_channel_is_suppressed() -> None:
    d = await decide(request(channel="email", profile={"consent": {"email": "opted_out"}}))
    assert (d.action, d.reason, d.rule) == ("suppress", "opted_out", "email")


async def test_person_unsubscribed_from_everything_is_suppressed() -> None:
    d = await decide(request(profile={"unsubscribed_all": True}))
    assert (d.action, d.reason) == ("suppress", "opted_out")


async def test_sms_without_explicit_consent_is_suppressed() -> None:
    d = await decide(request(channel="sms", profile={"consent": {"email": "granted", "sms": "unknown"}}))
    assert (d.action, d.reason, d.rule) == ("suppress", "no_consent", "sms")


async def test_email_with_unknown_consent_needs_a_customer_relationship() -> None:
    lead = await decide(
        request(profile={"consent": {}, "lifecycle_stage": "lead", "buying_stage": "evaluating"})
    )
    customer = await decide(request(profile={"consent": {}, "lifecycle_stage": "active"}))
    assert (lead.action, lead.reason) == ("suppress", "no_consent")
    assert customer.action == "send"


async def test_channel_falls_back_to_a_consented_one_when_none_is_requested() -> None:
    d = await decide(
        request(profile={"preferred_channel": "sms", "consent": {"email": "granted", "sms": "opted_out"}})
    )
    assert d.action == "send" and d.message is not None and d.message.channel == "email"


# --------------------------------------------------------------------------- suppress: quiet hours, stage


async def test_quiet_hours_in_the_persons_timezone_suppress_with_a_retry_time() -> None:
    d = await decide(request(profile={"timezone": "Asia/Tokyo"}))  # 00:00 in Tokyo
    assert (d.action, d.reason) == ("suppress", "quiet_hours")
    assert d.retry_at is not None and d.retry_at.isoformat() == "2024-05-14T23:00:00+00:00"  # 08:00 JST


async def test_in_app_messages_have_no_quiet_hours() -> None:
    d = await decide(request(channel="in_app", profile={"timezone": "Asia/Tokyo"}))
    assert d.action == "send" and d.message is not None and d.message.subject is None


async def test_researching_person_gets_no_demo_push_but_is_pointed_to_proof() -> None:
    d = await decide(
        request(campaign="demo", profile={"buying_stage": "researching", "lifecycle_stage": "lead"})
    )
    assert (d.action, d.reason, d.rule) == ("suppress", "stage_mismatch", "researching")
    assert set(d.suggested_kinds) == {"case_study", "peer_review"}


async def test_researching_person_gets_proof_with_relevance_and_no_pressure() -> None:
    d = await decide(
        request(campaign="case_study", profile={"buying_stage": "researching", "lifecycle_stage": "lead"})
    )
    assert (d.action, d.reason, d.state) == ("send", "send_low_pressure", "curious")
    assert d.message is not None and "Since you have been looking into this" in d.message.body


async def test_discount_above_the_policy_limit_is_not_sent() -> None:
    req = request(campaign="winback")
    data = req.model_dump(mode="json")
    data["campaign"]["content"]["discount_pct"] = 50
    d = await decide(type(req).model_validate(data))
    assert (d.action, d.reason) == ("suppress", "discount_not_allowed")


# --------------------------------------------------------------------------- route_to_rep


@pytest.mark.parametrize(
    ("inquiry", "topic", "queue"),
    [
        ("Can we get a better price if we commit to 200 seats?", "pricing_exception", "sales"),
        ("We need net-60 payment terms.", "custom_terms", "sales"),
        ("Our procurement team needs a W-9 and a vendor registration form.", "procurement", "sales_ops"),
        ("Legal needs to review your MSA and DPA before we sign.", "legal_review", "legal"),
        ("Can you share your SOC 2 report?", "security_docs", "security"),
    ],
)
async def test_requests_only_a_person_can_answer_are_routed_to_a_rep(
    inquiry: str, topic: str, queue: str
) -> None:
    d = await decide(request(inquiry=inquiry))
    assert (d.action, d.reason, d.rule) == ("route_to_rep", "rep_topic", topic)
    packet = d.rep_packet
    assert packet is not None and packet.queue == queue
    assert any(inquiry[:20] in line for line in packet.asked)
    assert packet.person_id == "p1" and packet.buying_stage == "customer" and packet.recommended_next_step


async def test_security_and_soc2_page_visits_route_an_evaluating_lead_to_a_rep() -> None:
    events = [
        event("page_view", hours=20, page="/security"),
        event("page_view", hours=19, page="/trust/soc2"),
    ]
    d = await decide(
        request(events=events, profile={"buying_stage": "evaluating", "lifecycle_stage": "trial"})
    )
    assert (d.action, d.rule) == ("route_to_rep", "security_docs")
    assert d.rep_packet is not None and any("/security" in line for line in d.rep_packet.asked)


async def test_security_page_visits_alone_do_not_route_someone_still_researching() -> None:
    events = [event("page_view", hours=20, page="/security")]
    d = await decide(
        request(
            campaign="case_study",
            events=events,
            profile={"buying_stage": "researching", "lifecycle_stage": "lead"},
        )
    )
    assert d.action == "send"


async def test_a_rep_request_is_routed_even_when_the_person_opted_out_and_the_packet_says_so() -> None:
    d = await decide(request(inquiry="Please send your DPA", profile={"consent": {"email": "opted_out"}}))
    assert d.action == "route_to_rep"
    assert d.rep_packet is not None and "email" not in d.rep_packet.contact_ok


async def test_rep_packet_carries_recent_friction() -> None:
    d = await decide(
        request(inquiry="Can you send the SOC 2 report?", events=[event("failed_payment", hours=10)])
    )
    assert d.rep_packet is not None
    assert any("failed payment" in line for line in d.rep_packet.friction)
    assert "discount" not in d.rep_packet.do_not_offer


# --------------------------------------------------------------------------- send: tone by state


async def test_struggling_person_gets_help_and_an_offer_to_talk_instead_of_the_promotion() -> None:
    events = [
        event("rage_click", hours=3, count=3),
        event("product_error", hours=2),
        event("page_view", hours=2, page="/docs/api/auth"),
    ]
    d = await decide(request(events=events))
    assert (d.action, d.reason, d.state) == ("send", "send_help", "struggling")
    body = d.message.body if d.message else ""
    assert "Automations" not in body
    assert "troubleshooting guide" in body and "quick chat" in body


async def test_ordinary_customer_gets_the_campaign() -> None:
    d = await decide(request())
    assert (d.action, d.reason) == ("send", "send_campaign")
    assert d.message is not None and d.message.subject == "Automations are here"
    assert "https://example.com/automations" in d.message.body


async def test_sms_is_short_and_has_no_subject() -> None:
    d = await decide(request(channel="sms", profile={"consent": {"sms": "granted"}}))
    assert d.message is not None and d.message.subject is None
    assert len(d.message.body) <= 320 and "\n" not in d.message.body


async def test_every_decision_explains_itself_with_factors() -> None:
    d = await decide(lost_power_user())
    names = {f.name for f in d.factors}
    assert {"state", "frustration", "holds", "channel", "local_time", "buying_stage", "planned_kind"} <= names
    assert any(f.effect.startswith("-> send") for f in d.factors)
    assert d.explanation


# --------------------------------------------------------------------------- concierge


async def test_high_value_frustrated_account_raises_a_concierge_alert_with_friction_summary() -> None:
    sink = InMemoryAlertSink()
    events = [
        event("support_conversation", hours=30, outcome="escalated", text="Nothing works, third time asking!")
    ]
    d = await decide(
        request(
            events=events,
            profile={"tier": "enterprise", "account_value": 120000, "account_manager": {"name": "Dana"}},
        ),
        sink=sink,
    )
    assert d.concierge is not None and d.concierge.delivered and d.concierge.account_manager == "Dana"
    assert len(sink.sent) == 1
    kind, payload = sink.sent[0]
    assert kind == ALERT_KIND and payload["person_id"] == "p1"
    assert "unresolved support conversation" in str(payload["friction"])


async def test_low_value_account_raises_no_concierge_alert() -> None:
    sink = InMemoryAlertSink()
    d = await decide(finished_customer().model_copy(update={"profile": request().profile}), sink=sink)
    assert d.concierge is None and sink.sent == []


class _BrokenSink:
    async def send(self, kind: str, payload: dict[str, object]) -> None:
        raise ConnectionError("webhook down")


async def test_a_failing_alert_sink_never_loses_the_decision() -> None:
    svc = service()
    svc.context_for("default").alert_sink = _BrokenSink()
    try:
        d = await svc.decide(finished_customer())
    finally:
        svc.context_for("default").alert_sink = InMemoryAlertSink()
    assert d.action == "route_to_rep"
    assert (
        d.concierge is not None and not d.concierge.delivered and "webhook down" in (d.concierge.error or "")
    )


# --------------------------------------------------------------------------- the graph


async def test_graph_and_direct_walk_decide_the_same() -> None:
    people = [
        lost_power_user(),
        finished_customer(),
        request(),
        request(inquiry="SOC 2 please"),
        request(events=[event("failed_payment", hours=3)]),
        request(profile={"timezone": "Asia/Tokyo"}),
    ]
    for person in people:
        direct = await decide(person)
        graphed = await decide(person, via_graph=True)
        assert direct.model_dump(exclude={"concierge"}) == graphed.model_dump(exclude={"concierge"})


async def test_request_id_and_person_are_echoed() -> None:
    d = await decide(request(request_id="abc"))
    assert (d.request_id, d.person_id, d.campaign_id) == ("abc", "p1", "feature")
    assert d.decided_at > SEND_AT
