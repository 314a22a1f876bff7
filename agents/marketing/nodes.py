"""The marketing graph's nodes. Each takes the state and the run context and returns a partial update.

assess → decide → (write → output_guard | rep_packet | ·) → concierge → finish
"""

from __future__ import annotations

from tactful.agents.engine.offload import off_loop
from tactful.agents.engine.seam import Avoid, CopyRequest, CopyResult
from tactful.agents.marketing.alerts import ALERT_KIND, build_alert, concierge_reason
from tactful.agents.marketing.checker import Verdict, check
from tactful.agents.marketing.context import MarketingContext
from tactful.agents.marketing.guard import Finding, check_draft
from tactful.agents.marketing.models import MarketingDecision, MarketingMessage
from tactful.agents.marketing.packet import build_packet
from tactful.agents.marketing.signals import fold_signals
from tactful.agents.marketing.state import MarketingState

Update = dict[str, object]


async def assess_node(state: MarketingState, ctx: MarketingContext) -> Update:
    """Fold the person's recent events and words into signals (frustration, friction, state, topics)."""
    request = state["request"]
    now = request.send_at or ctx.now()
    # The sentiment lexicon over the person's words is CPU work: off the event loop.
    signals = await off_loop(fold_signals, request, ctx.policy, ctx.reasoner, now=now, cache=ctx.sentiment_cache)
    return {"now": now, "signals": signals}


async def decide_node(state: MarketingState, ctx: MarketingContext) -> Update:
    """The deterministic policy checker."""
    return {"verdict": check(state["request"], state["signals"], ctx.policy, explain=ctx.templates.explanations)}


def after_decide(state: MarketingState) -> str:
    action = state["verdict"].action
    if action == "send":
        return "write"
    if action == "route_to_rep":
        return "rep_packet"
    return "concierge"


def copy_request(state: MarketingState, ctx: MarketingContext) -> CopyRequest:
    request, verdict, signals = state["request"], state["verdict"], state["signals"]
    assert verdict.channel is not None
    avoid: list[Avoid] = []
    if verdict.holds or verdict.kind == "help":
        avoid.append("promotion")
    if not (verdict.kind == "discount_offer" and verdict.discount_allowed):
        avoid.append("discount")
    if signals.state in ("curious", "struggling", "leaving"):
        avoid.append("pressure")
    topic = ctx.policy.help_topics.get(signals.help_topic) or ctx.policy.help_topics["general"]
    return CopyRequest(
        goal=request.campaign.goal,
        kind=verdict.kind,
        state=signals.state,
        channel=verdict.channel,
        content=request.campaign.content,
        first_name=request.profile.first_name,
        company=request.profile.company,
        help_topic=signals.help_topic,
        help_link=topic.link,
        max_chars=ctx.policy.channels.max_chars.get(verdict.channel),
        avoid=tuple(avoid),
    )


async def write_node(state: MarketingState, ctx: MarketingContext) -> Update:
    """Draft the message through the engine seam (templates offline; a model when configured)."""
    return {"draft": await ctx.engine.write_copy(copy_request(state, ctx))}


def _message(draft: CopyResult, verdict: Verdict, state: MarketingState) -> MarketingMessage:
    assert verdict.channel is not None
    return MarketingMessage(
        channel=verdict.channel,
        subject=draft.subject if verdict.channel == "email" else None,
        body=draft.body,
        kind=verdict.kind,
        tone=state["signals"].state,
        source=draft.source,
    )


async def output_guard_node(state: MarketingState, ctx: MarketingContext) -> Update:
    """Check the draft; a non-template draft that fails is replaced by the template once; else the send is
    blocked."""
    request, verdict, signals = state["request"], state["verdict"], state["signals"]
    draft = state.get("draft")
    assert draft is not None

    def guard(text: CopyResult) -> list[Finding]:
        return check_draft(text, request=request, verdict=verdict, signals=signals, policy=ctx.policy)

    findings = guard(draft)
    if not findings:
        return {"message": _message(draft, verdict, state), "guards": []}
    if draft.source != "offline":
        safe = ctx.offline.render_copy(copy_request(state, ctx))
        if not guard(safe):
            return {
                "message": _message(safe, verdict, state),
                "guards": [f.as_check(fixed=True) for f in findings],
            }
    blocked = Verdict(
        action="suppress",
        reason="guard_blocked",
        rule=findings[0].code,
        explanation=ctx.templates.explanations.say("guard_blocked", detail=findings[0].detail),
        kind=verdict.kind,
        channel=verdict.channel,
        consented=verdict.consented,
        holds=verdict.holds,
        discount_allowed=verdict.discount_allowed,
        factors=[
            *verdict.factors,
            {"name": "output_guard", "value": findings[0].code, "effect": "-> suppress:guard_blocked"},
        ],
    )
    return {"verdict": blocked, "message": None, "guards": [f.as_check(fixed=False) for f in findings]}


async def rep_packet_node(state: MarketingState, ctx: MarketingContext) -> Update:
    return {"packet": build_packet(state["request"], state["signals"], state["verdict"], ctx.policy)}


async def concierge_node(state: MarketingState, ctx: MarketingContext) -> Update:
    """High-value account showing frustration: alert its account manager; a failed delivery is recorded."""
    request, signals, verdict = state["request"], state["signals"], state["verdict"]
    explain = ctx.templates.explanations
    why = concierge_reason(request, signals, verdict, ctx.policy, explain=explain)
    if why is None:
        return {"concierge": None}
    alert, payload = build_alert(request, signals, verdict, ctx.policy, why, explain=explain)
    try:
        await ctx.alert_sink.send(ALERT_KIND, payload)
    except Exception as exc:  # a failing sink never loses the decision
        return {"concierge": alert.model_copy(update={"error": f"{type(exc).__name__}: {exc}"[:300]})}
    return {"concierge": alert.model_copy(update={"delivered": True})}


async def finish_node(state: MarketingState, ctx: MarketingContext) -> Update:
    request, verdict, signals = state["request"], state["verdict"], state["signals"]
    factors = verdict.factors
    concierge = state.get("concierge")
    if concierge is not None:
        factors = [
            *factors,
            {"name": "concierge", "value": concierge.priority, "effect": "alert account manager"},
        ]
    if verdict.action == "send" and ctx.copy_note != "templates":
        factors = [*factors, {"name": "copywriter", "value": ctx.copy_note, "effect": "wrote the draft"}]
    # One validation of the whole decision: factors arrive as dicts, validated in pydantic-core.
    decision = MarketingDecision.model_validate(
        {
            "request_id": request.request_id,
            "person_id": request.profile.person_id,
            "campaign_id": request.campaign.campaign_id,
            "action": verdict.action,
            "reason": verdict.reason,
            "rule": verdict.rule,
            "explanation": verdict.explanation,
            "state": signals.state,
            "frustration": signals.frustration,
            "factors": factors,
            "message": state.get("message") if verdict.action == "send" else None,
            "retry_at": verdict.retry_at,
            "suggested_kinds": verdict.suggested,
            "rep_packet": state.get("packet"),
            "concierge": concierge,
            "guards": state.get("guards", []),
            "policy_version": ctx.policy.version,
            "decided_at": ctx.now(),
        }
    )
    return {"decision": decision}
