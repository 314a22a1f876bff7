"""The marketing policy checker: a deterministic reading of ``policies/marketing.yaml``.

Order (first that applies decides; every input is recorded as a factor either way): route_to_rep (leaving
after failures, then rep topics) → opted_out / no_consent → hold → quiet_hours → stage_mismatch →
discount_not_allowed → send (help instead of the campaign, low pressure, or the campaign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tactful.agents.guards.redact import mask
from tactful.agents.marketing.explanations import Explanations
from tactful.agents.marketing.models import (
    Action,
    Channel,
    ContentKind,
    MarketingRequest,
    ReasonCode,
)
from tactful.agents.marketing.policy import HoldRule, MarketingPolicy
from tactful.agents.marketing.signals import Signals, TopicHit, clip
from tactful.agents.marketing.time import is_quiet, local_time, next_allowed
from tactful.agents.state import Factor


@dataclass
class Verdict:
    action: Action
    reason: ReasonCode
    rule: str
    explanation: str
    kind: ContentKind  # what is (or would have been) sent
    channel: Channel | None
    consented: tuple[Channel, ...]
    holds: tuple[str, ...]
    discount_allowed: bool
    factors: list[Factor] = field(default_factory=list)  # validated into DecisionFactor at the end
    retry_at: datetime | None = None
    suggested: list[ContentKind] = field(default_factory=list)
    topic: TopicHit | None = None


# --------------------------------------------------------------------------- pieces


def consent_ok(request: MarketingRequest, policy: MarketingPolicy, channel: Channel) -> bool:
    profile = request.profile
    status = profile.consent.get(channel, "unknown")
    if profile.unsubscribed_all or status == "opted_out":
        return False
    if status == "granted":
        return True
    if channel in policy.consent.explicit_required:
        return False
    return profile.lifecycle_stage in policy.consent.implied_for_lifecycle


def consented_channels(request: MarketingRequest, policy: MarketingPolicy) -> tuple[Channel, ...]:
    return tuple(c for c in policy.channels.order if consent_ok(request, policy, c))


def pick_channel(
    request: MarketingRequest, policy: MarketingPolicy, consented: tuple[Channel, ...]
) -> Channel:
    """The request's channel; else the preferred one when usable; else the first usable in policy order."""
    if request.channel is not None:
        return request.channel
    preferred = request.profile.preferred_channel
    if preferred is not None and preferred in consented:
        return preferred
    if consented:
        return consented[0]
    return preferred or policy.channels.order[0]


def _released(rule: HoldRule, trigger_at: datetime, signals: Signals, policy: MarketingPolicy) -> bool:
    for match in rule.released_by:
        for event in match.matching(signals.events, now=signals.now, lookback=policy.lookback):
            if event.at > trigger_at:
                return True
    return False


def active_holds(
    signals: Signals, policy: MarketingPolicy, *, explain: Explanations
) -> list[tuple[HoldRule, str]]:
    """(rule, why) for every hold in force now."""
    out: list[tuple[HoldRule, str]] = []
    for rule in policy.holds:
        if rule.match is not None:
            hits = rule.match.matching(signals.events, now=signals.now, lookback=policy.lookback)
            total = sum(e.count for e in hits)
            if hits and total >= rule.match.min_count and not _released(rule, hits[0].at, signals, policy):
                hours = (signals.now - hits[0].at).total_seconds() / 3600
                why = explain.say("hold_events", label=rule.label, count=total, type=hits[0].type, hours=f"{hours:.0f}")
                out.append((rule, why))
                continue
        if rule.frustration_at_least is not None and signals.frustration >= rule.frustration_at_least:
            why = explain.say("hold_frustration", label=rule.label, frustration=f"{signals.frustration:.2f}")
            out.append((rule, why))
    return out


def leaving_after_failures(signals: Signals, policy: MarketingPolicy) -> bool:
    return (
        signals.state == "leaving"
        and len(signals.friction) >= policy.routing.leaving_after_failures.friction_at_least
    )


def discount_allowed(
    request: MarketingRequest, signals: Signals, policy: MarketingPolicy, *, explain: Explanations
) -> tuple[bool, str]:
    """(allowed, why not) for a discount offer to this person."""
    d = policy.discount
    pct = request.campaign.content.discount_pct
    if pct is not None and pct > d.max_pct:
        return False, explain.say("discount_over_limit", pct=f"{pct:g}", max_pct=f"{d.max_pct:g}")
    if d.allowed_tiers is not None and request.profile.tier not in d.allowed_tiers:
        return False, explain.say("discount_tier", tier=request.profile.tier)
    if signals.state == "leaving":
        if leaving_after_failures(signals, policy) and not d.allow_to_leaving_after_failures:
            return False, explain.say("discount_leaving_after_failures")
        if not d.allow_to_leaving:
            return False, explain.say("discount_leaving")
    return True, ""


def help_instead(request: MarketingRequest, signals: Signals, policy: MarketingPolicy) -> bool:
    """Struggling people, and leaving people who were lost or would get anything but an allowed kind, get
    help."""
    c = policy.content
    if signals.state in c.help_instead_states:
        return True
    if signals.state != "leaving":
        return False
    lost = c.help_when_leaving_and_lost and signals.help_topic != "general"
    return lost or request.campaign.content.kind not in c.leaving_allowed_kinds


# --------------------------------------------------------------------------- the checker


def check(
    request: MarketingRequest, signals: Signals, policy: MarketingPolicy, *, explain: Explanations
) -> Verdict:
    """The decision for ``request``, with every factor; ``explain`` words its explanation."""
    profile = request.profile
    content = request.campaign.content
    consented = consented_channels(request, policy)
    channel = pick_channel(request, policy, consented)
    holds = active_holds(signals, policy, explain=explain)
    hold_ids = tuple(rule.id for rule, _ in holds)
    may_discount, no_discount_why = discount_allowed(request, signals, policy, explain=explain)
    now_local = local_time(signals.now, profile.timezone)
    window = policy.quiet_hours.window_for(channel)
    quiet = is_quiet(window, signals.now, profile.timezone)
    replace = help_instead(request, signals, policy)
    kind: ContentKind = "help" if replace else content.kind
    stage_rule = policy.stages.get(profile.buying_stage)
    leaving_fail = leaving_after_failures(signals, policy)

    factors: list[Factor] = []

    def factor(name: str, value: str | float | int | bool | None, effect: str = "considered") -> None:
        factors.append({"name": name, "value": value, "effect": effect})

    factor("state", signals.state, signals.state_reason)
    factor("frustration", signals.frustration, signals.sentiment.label)
    factor(
        "friction_events",
        len(signals.friction),
        ", ".join(sorted({f.label for f in signals.friction})) or "none",
    )
    factor("tier", profile.tier)
    factor("account_value", profile.account_value)
    factor("lifecycle_stage", profile.lifecycle_stage)
    factor("buying_stage", profile.buying_stage)
    factor("channel", channel, "requested" if request.channel else "chosen")
    factor("consented_channels", ",".join(consented) or None)
    factor("local_time", now_local.isoformat(timespec="minutes"), profile.timezone)
    factor("holds", ",".join(hold_ids) or None)
    factor("campaign_kind", content.kind)
    factor("planned_kind", kind, "help instead of the campaign" if replace else "as planned")
    factor("rep_topics", ",".join(t.topic for t in signals.rep_topics) or None)
    factor("help_topic", signals.help_topic, signals.help_evidence or "fallback")

    def verdict(
        action: Action, reason: ReasonCode, rule: str, explanation: str, decisive: str, **extra: object
    ) -> Verdict:
        for f in factors:
            if f["name"] == decisive:
                f["effect"] = f"-> {action}:{reason}"
        return Verdict(
            action=action,
            reason=reason,
            rule=rule,
            explanation=explanation,
            kind=kind,
            channel=channel,
            consented=consented,
            holds=hold_ids,
            discount_allowed=may_discount,
            factors=factors,
            **extra,  # type: ignore[arg-type]
        )

    # 1. route_to_rep
    if leaving_fail:
        words = tuple(f'wrote: "{clip(mask(text))}"' for text in signals.texts[:2])
        evidence = (signals.state_reason, *words, *(e for hit in signals.rep_topics for e in hit.evidence))
        return verdict(
            "route_to_rep",
            "leaving_after_failures",
            "leaving_after_failures",
            explain.say(
                "leaving_after_failures", state_reason=signals.state_reason, failures=len(signals.friction)
            ),
            "friction_events",
            topic=TopicHit(topic="leaving_after_failures", evidence=evidence, by_words=False),
        )
    if signals.rep_topics:
        hit = signals.rep_topics[0]
        label = policy.routing.topics[hit.topic].label
        return verdict(
            "route_to_rep",
            "rep_topic",
            hit.topic,
            explain.say("rep_topic", label=label, evidence="; ".join(hit.evidence)),
            "rep_topics",
            topic=hit,
        )

    # 2. consent
    status = profile.consent.get(channel, "unknown")
    if profile.unsubscribed_all or status == "opted_out":
        why = (
            explain.say("unsubscribed_all")
            if profile.unsubscribed_all
            else explain.say("opted_out", channel=channel)
        )
        return verdict("suppress", "opted_out", channel, why, "consented_channels")
    if channel not in consented:
        need = "no_explicit_consent" if channel in policy.consent.explicit_required else "no_consent"
        return verdict("suppress", "no_consent", channel, explain.say(need, channel=channel), "consented_channels")

    # 3. hold
    if holds and content.kind not in policy.content.hold_exempt:
        rule_, why = holds[0]
        return verdict(
            "suppress",
            "hold",
            rule_.id,
            explain.say("hold", why=why),
            "holds",
        )

    # 4. quiet hours
    if quiet and window is not None:
        retry = next_allowed(window, signals.now, profile.timezone)
        return verdict(
            "suppress",
            "quiet_hours",
            channel,
            explain.say(
                "quiet_hours",
                local_time=f"{now_local:%H:%M}",
                timezone=profile.timezone,
                start=window.start,
                end=window.end,
                channel=channel,
            ),
            "local_time",
            retry_at=retry,
        )

    # 5. buying stage
    if stage_rule is not None and kind not in stage_rule.allow:
        return verdict(
            "suppress",
            "stage_mismatch",
            profile.buying_stage,
            explain.say(
                "stage_mismatch",
                stage=profile.buying_stage,
                kinds=", ".join(stage_rule.prefer or stage_rule.allow),
                kind=kind.replace("_", " "),
            ),
            "buying_stage",
            suggested=list(stage_rule.prefer or stage_rule.allow),
        )

    # 6. discount policy
    if kind == "discount_offer" and not may_discount:
        return verdict(
            "suppress",
            "discount_not_allowed",
            "discount",
            explain.say("discount_not_allowed", why=no_discount_why),
            "planned_kind",
        )

    # 7. send
    if holds:
        return verdict(
            "send",
            "send_service",
            holds[0][0].id,
            explain.say("send_service", why=holds[0][1]),
            "holds",
        )
    if replace:
        return verdict(
            "send",
            "send_help",
            signals.help_topic,
            explain.say(
                "send_help",
                state=signals.state,
                state_reason=signals.state_reason,
                topic=signals.help_topic.replace("_", " "),
            ),
            "state",
        )
    if signals.state == "curious":
        return verdict(
            "send",
            "send_low_pressure",
            request.campaign.goal,
            explain.say("send_low_pressure", state_reason=signals.state_reason),
            "state",
        )
    return verdict(
        "send",
        "send_campaign",
        request.campaign.goal,
        explain.say("send_campaign", channel=channel, stage=profile.buying_stage),
        "planned_kind",
    )
