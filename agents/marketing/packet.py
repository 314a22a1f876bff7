"""The packet a human rep gets with a routed lead: who, what they asked, their stage, recent friction, what
not to do."""

from __future__ import annotations

from tactful.agents.marketing.alerts import friction_lines, high_value
from tactful.agents.marketing.checker import Verdict
from tactful.agents.marketing.models import MarketingRequest, RepPacket
from tactful.agents.marketing.policy import MarketingPolicy
from tactful.agents.marketing.signals import Signals
from tactful.agents.state import Priority


def build_packet(
    request: MarketingRequest, signals: Signals, verdict: Verdict, policy: MarketingPolicy
) -> RepPacket:
    p = request.profile
    routing = policy.routing
    priority: Priority
    if verdict.reason == "leaving_after_failures":
        rule = routing.leaving_after_failures
        label, queue, next_step = rule.label, rule.queue, rule.next_step
        priority = "urgent" if high_value(request, policy) else "high"
    else:
        topic = routing.topics[verdict.rule]
        label, queue, next_step, priority = topic.label, topic.queue, topic.next_step, topic.priority
        if high_value(request, policy) and priority in ("low", "normal"):
            priority = "high"
    asked = list(verdict.topic.evidence) if verdict.topic else []
    for hit in signals.rep_topics:
        asked.extend(e for e in hit.evidence if e not in asked)
    do_not_offer: list[str] = []
    if not verdict.discount_allowed or verdict.reason == "leaving_after_failures":
        do_not_offer.append("discount")
    if verdict.holds:
        do_not_offer.append("promotions (hold: " + ", ".join(verdict.holds) + ")")
    return RepPacket(
        person_id=p.person_id,
        name=p.first_name,
        company=p.company,
        account_id=p.account_id,
        tier=p.tier,
        account_value=p.account_value,
        lifecycle_stage=p.lifecycle_stage,
        buying_stage=p.buying_stage,
        topic=verdict.rule,
        topic_label=label,
        queue=queue,
        asked=asked,
        friction=friction_lines(signals),
        frustration=signals.frustration,
        state=signals.state,
        contact_ok=list(verdict.consented),
        do_not_offer=do_not_offer,
        recommended_next_step=next_step,
        priority=priority,
    )
