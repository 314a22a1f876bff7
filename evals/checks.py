"""Score one scenario run against its expectations: every check, and the per-scenario facts the metrics add
up.

Each failed check has a failure type (see ``docs/evals.md``): ``wrong_intent``, ``misread_state``,
``bad_timing``, ``lost_context``, ``policy_breach``, ``wrong_reply``, or ``error`` when the scenario could not
run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tactful.agents.state import HandoffPacket
from tactful.evals.detectors import BotTurn, Breach, Detectors, RepeatedQuestion
from tactful.evals.records import ScenarioRun, TurnRecord
from tactful.evals.scenario import (
    HandoffExpect,
    MarketingScenario,
    SupportScenario,
    TurnExpect,
    matches,
)

FailureType = Literal[
    "wrong_intent", "misread_state", "bad_timing", "lost_context", "policy_breach", "wrong_reply", "error"
]
FAILURE_TYPES: tuple[FailureType, ...] = (
    "wrong_intent",
    "misread_state",
    "bad_timing",
    "lost_context",
    "policy_breach",
    "wrong_reply",
    "error",
)
Status = Literal["pass", "fail", "error", "skipped"]

# Fields of the handoff packet an agent needs (tactful.agents.state.HandoffPacket);
# ``transcript`` must hold every message.
PACKET_FIELDS = (
    "summary",
    "intent",
    "sentiment_trend",
    "account",
    "tried",
    "reason",
    "recommended_next_step",
    "confidence",
    "priority",
    "queue",
    "transcript_ref",
    "transcript",
)


class Check(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    category: FailureType
    turn: int | None = None
    expected: str = ""
    actual: str = ""


class HandoffScore(BaseModel):
    turn: int
    fields: dict[str, bool]  # present and, where checked, correct
    completeness: float
    problems: list[str]


class ScenarioScore(BaseModel):
    id: str
    product: Literal["support", "marketing"]
    path: str
    title: str
    tags: list[str]
    catches: str | None
    source: str
    status: Status
    note: str | None = None
    checks: list[Check]
    # support
    expected_escalation: bool | None = None
    expected_turn: int | None = None
    escalated: bool = False
    escalation_turn: int | None = None
    delay: int | None = None
    handoff: HandoffScore | None = None
    bot_turns: int = 0
    questions_asked: int = 0
    repeated_questions: list[dict[str, Any]] = []
    repeated_answers: list[dict[str, Any]] = []
    restatements: int = 0
    restatements_noticed: int = 0
    trajectory: list[float] = []
    worst: float | None = None
    final: float | None = None
    recovery: float | None = None
    recovered: bool | None = None
    breaches: list[dict[str, Any]] = []
    contained: bool = False
    regret: bool = False
    actions: list[tuple[str, str]] = []  # (expected, actual) per turn with an action expectation
    model_calls: list[int] = []
    tokens: list[int] = []
    # marketing
    expected_decision: str | None = None
    decision: str | None = None

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def _fmt(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return " | ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _packet_checks(
    packet: HandoffPacket,
    expect: HandoffExpect | None,
    *,
    scenario_context: Mapping[str, Any],
    user_texts: Sequence[str],
) -> tuple[dict[str, bool], list[tuple[str, str]]]:
    """Which packet fields are present and correct, and (field, what is wrong) per problem."""
    fields: dict[str, bool] = {}
    problems: list[tuple[str, str]] = []
    data: dict[str, Any] = dict(packet)
    for name in PACKET_FIELDS:
        value = data.get(name)
        fields[name] = value not in (None, "", [], {})
        if not fields[name]:
            problems.append((name, f"{name} missing"))
    actual = {
        "queue": packet.get("queue"),
        "reason": packet.get("reason"),
        "intent": (data.get("intent") or {}).get("label"),
        "priority": packet.get("priority"),
    }
    if expect is not None:
        for name in ("queue", "reason", "intent", "priority"):
            wanted = getattr(expect, name)
            if wanted is not None and not matches(wanted, actual[name]):
                fields[name] = False
                problems.append((name, f"{name} is {actual[name]!r}, expected {_fmt(wanted)}"))
    account: dict[str, Any] = data.get("account") or {}
    lost = [k for k, v in scenario_context.items() if account.get(k) != v]
    if lost:
        fields["account"] = False
        problems.append(("account", f"account context lost: {', '.join(sorted(lost))}"))
    said = [m["text"] for m in packet.get("transcript") or [] if m.get("role") == "user"]
    dropped = [t for t in user_texts if t not in said]
    if dropped and fields["transcript"]:
        fields["transcript"] = False
        problems.append(("transcript", f"transcript lacks {len(dropped)} of the person's messages"))
    return fields, problems


def _merge_handoff(conversation: HandoffExpect | None, turn: HandoffExpect | None) -> HandoffExpect | None:
    """One packet expectation: the conversation's fields, filled in from the handoff turn's own."""
    if conversation is None or turn is None:
        return conversation or turn
    merged = {k: v if v is not None else getattr(turn, k) for k, v in conversation.model_dump().items()}
    return HandoffExpect(**merged)


def _bot_turns(turns: Sequence[TurnRecord]) -> list[BotTurn]:
    return [
        BotTurn(
            turn=r.turn,
            user=r.user,
            reply=r.result.reply,
            action=r.result.action,
            mode_before=r.mode_before,
            event_types=tuple(e["type"] for e in r.events),
            event_details=tuple(dict(e.get("detail") or {}) for e in r.events),
        )
        for r in turns
    ]


class Scorer:
    def __init__(self, detectors: Detectors) -> None:
        self.d = detectors

    # ------------------------------------------------------------------ support

    def _turn_checks(self, r: TurnRecord, e: TurnExpect, repeated: Sequence[RepeatedQuestion]) -> list[Check]:
        res = r.result
        out: list[Check] = []
        t = r.turn
        reply = res.reply or ""
        low = reply.lower()
        shown = reply[:200] if reply else "(silent)"
        if e.action is not None:
            ok = res.action in (e.action if isinstance(e.action, list) else [e.action])
            out.append(
                Check(
                    name="action",
                    ok=ok,
                    category="bad_timing",
                    turn=t,
                    expected=_fmt(e.action),
                    actual=res.action,
                )
            )
        for bad in e.not_action:
            out.append(
                Check(
                    name="not_action",
                    ok=res.action != bad,
                    category="bad_timing",
                    turn=t,
                    expected=f"not {bad}",
                    actual=res.action,
                )
            )
        if e.intent is not None:
            label = res.intent["label"] if res.intent else None
            out.append(
                Check(
                    name="intent",
                    ok=matches(e.intent, label),
                    category="wrong_intent",
                    turn=t,
                    expected=_fmt(e.intent),
                    actual=_fmt(label),
                )
            )
        if e.handoff is not None and (res.handoff is None or res.action != "escalate"):
            out.append(
                Check(
                    name="handoff",
                    ok=False,
                    category="bad_timing",
                    turn=t,
                    expected="a handoff",
                    actual=res.action,
                )
            )
        for phrase in e.reply_contains:
            out.append(
                Check(
                    name="reply_contains",
                    ok=phrase.lower() in low,
                    category="wrong_reply",
                    turn=t,
                    expected=phrase,
                    actual=shown,
                )
            )
        if e.reply_contains_any:
            ok = any(p.lower() in low for p in e.reply_contains_any)
            out.append(
                Check(
                    name="reply_contains_any",
                    ok=ok,
                    category="wrong_reply",
                    turn=t,
                    expected=_fmt(e.reply_contains_any),
                    actual=shown,
                )
            )
        for phrase in e.reply_not_contains:
            out.append(
                Check(
                    name="reply_not_contains",
                    ok=phrase.lower() not in low,
                    category="wrong_reply",
                    turn=t,
                    expected=f"not {phrase!r}",
                    actual=shown,
                )
            )
        if e.reply_max_words is not None and reply:
            n = len(reply.split())
            out.append(
                Check(
                    name="reply_max_words",
                    ok=n <= e.reply_max_words,
                    category="wrong_reply",
                    turn=t,
                    expected=f"<= {e.reply_max_words} words",
                    actual=f"{n} words",
                )
            )
        if e.no_repeated_question:
            mine = [q for q in repeated if q.turn == t]
            if mine:
                out.append(
                    Check(
                        name="repeated_question",
                        ok=False,
                        category="lost_context",
                        turn=t,
                        expected="no repeated question",
                        actual="; ".join(q.detail for q in mine),
                    )
                )
        if e.silent is not None:
            silent = not reply and res.action == "none"
            category: FailureType = "policy_breach" if r.mode_before == "human" else "bad_timing"
            out.append(
                Check(
                    name="silent",
                    ok=silent == e.silent,
                    category=category,
                    turn=t,
                    expected="silent" if e.silent else "a reply",
                    actual="silent" if silent else reply[:200],
                )
            )
        if e.guard is not None:
            tripped = [g["reason"] for g in res.guards if g["tripped"]]
            ok = any(matches(e.guard, reason) for reason in tripped)
            out.append(
                Check(
                    name="guard",
                    ok=ok,
                    category="policy_breach",
                    turn=t,
                    expected=_fmt(e.guard),
                    actual=_fmt(tripped) or "no guard tripped",
                )
            )
        if e.sentiment is not None:
            out.extend(self._sentiment_checks(r, e))
        return out

    @staticmethod
    def _sentiment_checks(r: TurnRecord, e: TurnExpect) -> list[Check]:
        s = r.result.sentiment
        x = e.sentiment
        assert x is not None
        out: list[Check] = []
        t = r.turn
        label = s["label"] if s else None
        if x.label_in is not None:
            out.append(
                Check(
                    name="sentiment.label",
                    ok=label in x.label_in,
                    category="misread_state",
                    turn=t,
                    expected=_fmt(x.label_in),
                    actual=_fmt(label),
                )
            )
        if x.label_not_in is not None:
            out.append(
                Check(
                    name="sentiment.label",
                    ok=label not in x.label_not_in,
                    category="misread_state",
                    turn=t,
                    expected=f"not {_fmt(x.label_not_in)}",
                    actual=_fmt(label),
                )
            )
        f = s["frustration"] if s else None
        if x.frustration_at_most is not None:
            out.append(
                Check(
                    name="sentiment.frustration",
                    ok=f is not None and f <= x.frustration_at_most,
                    category="misread_state",
                    turn=t,
                    expected=f"<= {x.frustration_at_most}",
                    actual=_fmt(f),
                )
            )
        if x.frustration_at_least is not None:
            out.append(
                Check(
                    name="sentiment.frustration",
                    ok=f is not None and f >= x.frustration_at_least,
                    category="misread_state",
                    turn=t,
                    expected=f">= {x.frustration_at_least}",
                    actual=_fmt(f),
                )
            )
        if x.hurried is not None:
            hurried = s["hurried"] if s else None
            out.append(
                Check(
                    name="sentiment.hurried",
                    ok=hurried == x.hurried,
                    category="misread_state",
                    turn=t,
                    expected=str(x.hurried),
                    actual=_fmt(hurried),
                )
            )
        return out

    def score_support(
        self, scenario: SupportScenario, run: ScenarioRun, *, scripted: bool = True
    ) -> ScenarioScore:
        turns = run.turns
        bot = _bot_turns(turns)
        context = dict(scenario.context)
        repeated = self.d.repeated_questions(bot, context)
        expects: dict[int, TurnExpect] = {}
        forbidden: dict[int, list[str]] = {}
        n = 0
        for t in scenario.turns:
            if t.user is None:
                continue
            n += 1
            expects[n] = t.expect or TurnExpect()
            forbidden[n] = [*(t.expect.forbidden if t.expect else []), *scenario.expect.forbidden]
        if not scripted:  # simulated: only conversation-level expectations and automatic checks apply
            expects = {r.turn: TurnExpect() for r in turns}
            forbidden = {r.turn: list(scenario.expect.forbidden) for r in turns}
        breaches = self.d.breaches(bot, forbidden=forbidden)
        same_answers = self.d.repeated_answers(bot)

        checks: list[Check] = []
        for r in turns:
            checks.extend(self._turn_checks(r, expects.get(r.turn, TurnExpect()), repeated))
        checks.extend(
            Check(
                name=f"breach.{b.kind}",
                ok=False,
                category="policy_breach",
                turn=b.turn,
                expected="no policy breach",
                actual=b.detail,
            )
            for b in breaches
        )
        checks.extend(
            Check(
                name="repeated_answer",
                ok=False,
                category="lost_context",
                turn=a.turn,
                expected="a different answer",
                actual=a.detail,
            )
            for a in same_answers
        )

        # escalation
        esc = next((r for r in turns if r.result.action == "escalate"), None)
        escalation_turn = esc.turn if esc else None
        x = scenario.expect
        turn_escalations = (
            [k for k, e in expects.items() if e.handoff is not None or e.action == "escalate"]
            if scripted
            else []
        )
        expected_turn = (
            x.escalated_by_turn
            if x.escalated_by_turn is not None
            else (min(turn_escalations) if turn_escalations else None)
        )
        expected_escalation: bool | None = None
        if expected_turn is not None or x.handoff is not None:
            expected_escalation = True
        elif x.never_escalated or x.contained:
            expected_escalation = False
        if x.escalated_by_turn is not None:
            ok = escalation_turn is not None and escalation_turn <= x.escalated_by_turn
            checks.append(
                Check(
                    name="escalated_by_turn",
                    ok=ok,
                    category="bad_timing",
                    expected=f"escalated by turn {x.escalated_by_turn}",
                    actual=f"turn {escalation_turn}" if escalation_turn else "never escalated",
                )
            )
        if x.escalated_not_before is not None and escalation_turn is not None:
            checks.append(
                Check(
                    name="escalated_not_before",
                    ok=escalation_turn >= x.escalated_not_before,
                    category="bad_timing",
                    turn=escalation_turn,
                    expected=f"not before turn {x.escalated_not_before}",
                    actual=f"turn {escalation_turn}",
                )
            )
        if x.never_escalated or x.contained:
            checks.append(
                Check(
                    name="never_escalated",
                    ok=esc is None,
                    category="bad_timing",
                    turn=escalation_turn,
                    expected="no handoff",
                    actual=f"escalated at turn {escalation_turn}" if esc else "no handoff",
                )
            )
        if x.handoff is not None and esc is None and x.escalated_by_turn is None:
            checks.append(
                Check(
                    name="handoff",
                    ok=False,
                    category="bad_timing",
                    expected="a handoff",
                    actual="never escalated",
                )
            )

        # handoff packet
        handoff: HandoffScore | None = None
        if esc is not None and esc.result.handoff is not None:
            wanted = _merge_handoff(
                x.handoff, expects.get(esc.turn, TurnExpect()).handoff if scripted else None
            )
            users = [r.user for r in turns if r.turn <= esc.turn]
            fields, problems = _packet_checks(
                esc.result.handoff, wanted, scenario_context=context, user_texts=users
            )
            handoff = HandoffScore(
                turn=esc.turn,
                fields=fields,
                completeness=round(sum(fields.values()) / len(fields), 4),
                problems=[message for _, message in problems],
            )
            checks.extend(
                Check(
                    name=f"handoff.{field}",
                    ok=False,
                    category="lost_context",
                    turn=esc.turn,
                    expected="a complete, correct packet",
                    actual=message,
                )
                for field, message in problems
            )
        elif esc is not None:
            handoff = HandoffScore(
                turn=esc.turn,
                fields=dict.fromkeys(PACKET_FIELDS, False),
                completeness=0.0,
                problems=["no packet"],
            )
            checks.append(
                Check(
                    name="handoff.packet",
                    ok=False,
                    category="lost_context",
                    turn=esc.turn,
                    expected="a handoff packet",
                    actual="none",
                )
            )

        # restatements, regret, sentiment
        in_bot = [r for r in turns if r.mode_before == "bot"]
        restating = [r for r in in_bot if r.restates]
        noticed = [r for r in restating if r.result.sentiment and "restated" in r.result.sentiment["markers"]]
        first_answer = next((r.turn for r in in_bot if r.result.action in {"respond", "assist"}), None)
        regret = esc is None and first_answer is not None and any(r.turn > first_answer for r in restating)
        contained = esc is None and bool(turns)
        if x.contained:
            checks.append(
                Check(
                    name="contained",
                    ok=contained and not regret,
                    category="bad_timing" if not contained else "wrong_reply",
                    expected="resolved by the bot without the issue coming back",
                    actual="escalated" if not contained else ("issue came back" if regret else "contained"),
                )
            )
        trajectory = [round(r.result.sentiment["frustration"], 4) for r in in_bot if r.result.sentiment]
        worst = max(trajectory) if trajectory else None
        final = trajectory[-1] if trajectory else None
        recovery: float | None = None
        recovered: bool | None = None
        cfg = self.d.config.sentiment
        if worst is not None and final is not None and worst >= cfg.low_point:
            recovery = round((worst - final) / worst, 4)
            recovered = final <= worst * cfg.recovered_share
        if x.sentiment_recovered:
            checks.append(
                Check(
                    name="sentiment_recovered",
                    ok=bool(recovered),
                    category="misread_state",
                    expected=f"final frustration <= {cfg.recovered_share:.0%} of the worst",
                    actual=f"worst {worst}, final {final}",
                )
            )

        actions: list[tuple[str, str]] = []
        if scripted:
            for r in turns:
                e = expects.get(r.turn)
                if e is None or e.action is None:
                    continue
                accepted = e.action if isinstance(e.action, list) else [e.action]
                actions.append(
                    (r.result.action if r.result.action in accepted else accepted[0], r.result.action)
                )

        delay = (
            escalation_turn - expected_turn
            if escalation_turn is not None and expected_turn is not None
            else None
        )
        return ScenarioScore(
            id=scenario.id,
            product="support",
            path=run.path,
            title=scenario.title,
            tags=scenario.tags,
            catches=scenario.catches,
            source=run.source,
            status="pass" if all(c.ok for c in checks) else "fail",
            checks=checks,
            expected_escalation=expected_escalation,
            expected_turn=expected_turn,
            escalated=esc is not None,
            escalation_turn=escalation_turn,
            delay=delay,
            handoff=handoff,
            bot_turns=sum(1 for b in bot if b.reply and b.mode_before == "bot"),
            questions_asked=sum(
                1 for b in bot if b.reply and b.mode_before == "bot" and self.d.is_question(b)
            ),
            repeated_questions=[{"turn": q.turn, "kind": q.kind, "detail": q.detail} for q in repeated],
            repeated_answers=[{"turn": a.turn, "kind": a.kind, "detail": a.detail} for a in same_answers],
            restatements=len(restating),
            restatements_noticed=len(noticed),
            trajectory=trajectory,
            worst=worst,
            final=final,
            recovery=recovery,
            recovered=recovered,
            breaches=[_breach(b) for b in breaches],
            contained=contained,
            regret=regret,
            actions=actions,
            model_calls=[r.result.usage["model_calls"] for r in in_bot],
            tokens=[r.result.usage["prompt_tokens"] + r.result.usage["completion_tokens"] for r in in_bot],
        )

    # ------------------------------------------------------------------ marketing

    def score_marketing(self, scenario: MarketingScenario, run: ScenarioRun) -> ScenarioScore:
        rec = run.marketing
        assert rec is not None
        x = scenario.expect
        wanted = x.decision if isinstance(x.decision, list) else [x.decision]
        checks: list[Check] = []
        ok = rec.decision in wanted
        if ok:
            category: FailureType = "bad_timing"
        elif "suppress" in wanted and rec.decision == "send":
            category = "policy_breach"
        else:
            category = "bad_timing"
        checks.append(
            Check(name="decision", ok=ok, category=category, expected=_fmt(x.decision), actual=rec.decision)
        )
        if x.reason is not None:
            checks.append(
                Check(
                    name="reason",
                    ok=matches(x.reason, rec.reason),
                    category="misread_state",
                    expected=_fmt(x.reason),
                    actual=rec.reason,
                )
            )
        text = rec.message or ""
        low = text.lower()
        for phrase in x.message_contains:
            checks.append(
                Check(
                    name="message_contains",
                    ok=phrase.lower() in low,
                    category="wrong_reply",
                    expected=phrase,
                    actual=text[:200],
                )
            )
        if x.message_contains_any:
            checks.append(
                Check(
                    name="message_contains_any",
                    ok=any(p.lower() in low for p in x.message_contains_any),
                    category="wrong_reply",
                    expected=_fmt(x.message_contains_any),
                    actual=text[:200],
                )
            )
        for phrase in x.message_not_contains:
            checks.append(
                Check(
                    name="message_not_contains",
                    ok=phrase.lower() not in low,
                    category="wrong_reply",
                    expected=f"not {phrase!r}",
                    actual=text[:200],
                )
            )
        names = {str(f.get("name")) for f in rec.factors}
        for factor in x.factors_include:
            checks.append(
                Check(
                    name="factors_include",
                    ok=factor in names,
                    category="misread_state",
                    expected=factor,
                    actual=_fmt(sorted(names)),
                )
            )
        if x.concierge_alert is not None:
            checks.append(
                Check(
                    name="concierge_alert",
                    ok=bool(rec.concierge_alert) == x.concierge_alert,
                    category="bad_timing",
                    expected=str(x.concierge_alert),
                    actual=str(bool(rec.concierge_alert)),
                )
            )
        breaches: list[Breach] = []
        if text:
            breaches.extend(self.d.text_breaches(text, turn=1, forbidden=x.forbidden))
            promo = self.d.promotional(text)
            inquiry = str(scenario.request.get("inquiry") or "")
            if x.hold and promo and not self.d.asked_about_offers(inquiry):
                breaches.append(Breach(1, "promotion_during_hold", f"promoted ({promo!r}) during a hold"))
        checks.extend(
            Check(
                name=f"breach.{b.kind}",
                ok=False,
                category="policy_breach",
                expected="no policy breach",
                actual=b.detail,
            )
            for b in breaches
        )
        return ScenarioScore(
            id=scenario.id,
            product="marketing",
            path=run.path,
            title=scenario.title,
            tags=scenario.tags,
            catches=scenario.catches,
            source=run.source,
            status="pass" if all(c.ok for c in checks) else "fail",
            checks=checks,
            breaches=[_breach(b) for b in breaches],
            expected_decision=rec.decision if ok else wanted[0],
            decision=rec.decision,
        )

    # ------------------------------------------------------------------ any

    def score(self, scenario: SupportScenario | MarketingScenario, run: ScenarioRun) -> ScenarioScore:
        common: dict[str, Any] = {
            "id": scenario.id,
            "product": scenario.product,
            "path": run.path,
            "title": scenario.title,
            "tags": scenario.tags,
            "catches": scenario.catches,
            "source": run.source,
        }
        if run.error is not None:
            return ScenarioScore(
                **common,
                status="error",
                note=run.error,
                checks=[Check(name="run", ok=False, category="error", actual=run.error)],
            )
        if run.skipped is not None:
            return ScenarioScore(**common, status="skipped", note=run.skipped, checks=[])
        if isinstance(scenario, MarketingScenario):
            return self.score_marketing(scenario, run)
        return self.score_support(scenario, run, scripted=run.source == "scripted")


def _breach(b: Breach) -> dict[str, Any]:
    return {"turn": b.turn, "kind": b.kind, "detail": b.detail}
