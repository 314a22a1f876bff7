"""Score a support conversation: the per-turn expectations, then the conversation's own — when (and whether) it
escalated, the handoff packet, whether it was contained without the issue coming back, and whether the person's
frustration recovered — plus the automatic checks (breaches, repeated questions and answers).

A simulated run (a model played the person) is scored on the conversation-level expectations and the automatic
checks only: its turns are not the scripted ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tactful.evals.detectors import BotTurn, Detectors, SentimentCfg
from tactful.evals.records import ScenarioRun, TurnRecord
from tactful.evals.scenario import ConversationExpect, SupportScenario, TurnExpect
from tactful.evals.scoring.common import breach_checks, breach_record
from tactful.evals.scoring.packet import merge_expectations, score_packet
from tactful.evals.scoring.score import Check, HandoffScore, SupportScore
from tactful.evals.scoring.turn import turn_checks

ANSWERS = frozenset({"respond", "assist"})  # actions that answer the issue (a restatement after one is regret)


@dataclass(frozen=True)
class Expectations:
    """Per bot turn (1-based, user turns only): what to expect and which phrases are forbidden."""

    turns: dict[int, TurnExpect]
    forbidden: dict[int, list[str]]

    @classmethod
    def of(cls, scenario: SupportScenario, run: ScenarioRun, *, scripted: bool) -> Expectations:
        conversation = scenario.expect.forbidden
        if not scripted:  # simulated: only conversation-level expectations and automatic checks apply
            return cls({r.turn: TurnExpect() for r in run.turns}, {r.turn: list(conversation) for r in run.turns})
        said = [t for t in scenario.turns if t.user is not None]
        turns = {n: t.expect or TurnExpect() for n, t in enumerate(said, start=1)}
        forbidden = {n: [*(t.expect.forbidden if t.expect else []), *conversation] for n, t in enumerate(said, 1)}
        return cls(turns, forbidden)

    def at(self, turn: int) -> TurnExpect:
        return self.turns.get(turn, TurnExpect())


@dataclass
class Escalation:
    """When the conversation was handed off, and when (whether) it should have been."""

    record: TurnRecord | None
    expected_turn: int | None
    expected: bool | None
    checks: list[Check] = field(default_factory=list)

    @property
    def turn(self) -> int | None:
        return self.record.turn if self.record else None

    @property
    def delay(self) -> int | None:
        if self.turn is None or self.expected_turn is None:
            return None
        return self.turn - self.expected_turn


def escalation(turns: Sequence[TurnRecord], x: ConversationExpect, expects: Expectations, *,
               scripted: bool) -> Escalation:
    """The first escalating turn against ``escalated_by_turn`` / ``escalated_not_before`` / ``never_escalated`` /
    ``contained`` / a conversation ``handoff``; a turn expecting a handoff sets the expected turn too."""
    esc = next((r for r in turns if r.result.action == "escalate"), None)
    at = esc.turn if esc else None
    by_turn = (
        [k for k, e in expects.turns.items() if e.handoff is not None or e.action == "escalate"] if scripted else []
    )
    expected_turn = x.escalated_by_turn if x.escalated_by_turn is not None else min(by_turn, default=None)
    expected: bool | None = None
    if expected_turn is not None or x.handoff is not None:
        expected = True
    elif x.never_escalated or x.contained:
        expected = False
    out = Escalation(esc, expected_turn, expected)
    if x.escalated_by_turn is not None:
        out.checks.append(Check(
            name="escalated_by_turn", ok=at is not None and at <= x.escalated_by_turn, category="bad_timing",
            expected=f"escalated by turn {x.escalated_by_turn}", actual=f"turn {at}" if at else "never escalated",
        ))
    if x.escalated_not_before is not None and at is not None:
        out.checks.append(Check(
            name="escalated_not_before", ok=at >= x.escalated_not_before, category="bad_timing", turn=at,
            expected=f"not before turn {x.escalated_not_before}", actual=f"turn {at}",
        ))
    if x.never_escalated or x.contained:
        out.checks.append(Check(
            name="never_escalated", ok=esc is None, category="bad_timing", turn=at, expected="no handoff",
            actual=f"escalated at turn {at}" if esc else "no handoff",
        ))
    if x.handoff is not None and esc is None and x.escalated_by_turn is None:
        out.checks.append(Check(name="handoff", ok=False, category="bad_timing", expected="a handoff",
                                actual="never escalated"))
    return out


def handoff(scenario: SupportScenario, turns: Sequence[TurnRecord], esc: TurnRecord | None,
            expects: Expectations, *, scripted: bool) -> tuple[HandoffScore | None, list[Check]]:
    """The packet of the escalating turn against the conversation's and that turn's ``handoff`` expectations."""
    if esc is None:
        return None, []
    wanted = merge_expectations(scenario.expect.handoff, expects.at(esc.turn).handoff if scripted else None)
    users = [r.user for r in turns if r.turn <= esc.turn]
    return score_packet(esc, wanted, scenario_context=dict(scenario.context), user_texts=users)


@dataclass(frozen=True)
class Containment:
    """Restatements while the bot had the conversation, and whether it was contained without regret (the
    person restating after the bot's first answer)."""

    restating: list[TurnRecord]
    noticed: list[TurnRecord]
    contained: bool
    regret: bool

    @classmethod
    def of(cls, in_bot: Sequence[TurnRecord], *, escalated: bool, any_turns: bool) -> Containment:
        restating = [r for r in in_bot if r.restates]
        noticed = [r for r in restating if r.result.sentiment and "restated" in r.result.sentiment["markers"]]
        first_answer = next((r.turn for r in in_bot if r.result.action in ANSWERS), None)
        regret = not escalated and first_answer is not None and any(r.turn > first_answer for r in restating)
        return cls(restating, noticed, contained=not escalated and any_turns, regret=regret)

    def check(self, x: ConversationExpect) -> list[Check]:
        if not x.contained:
            return []
        return [Check(
            name="contained", ok=self.contained and not self.regret,
            category="bad_timing" if not self.contained else "wrong_reply",
            expected="resolved by the bot without the issue coming back",
            actual="escalated" if not self.contained else ("issue came back" if self.regret else "contained"),
        )]


@dataclass(frozen=True)
class Recovery:
    """Frustration per bot turn; from a low point (at least ``low_point``), how far it came back."""

    trajectory: list[float]
    recovery: float | None
    recovered: bool | None

    @property
    def worst(self) -> float | None:
        return max(self.trajectory) if self.trajectory else None

    @property
    def final(self) -> float | None:
        return self.trajectory[-1] if self.trajectory else None

    @classmethod
    def of(cls, in_bot: Sequence[TurnRecord], cfg: SentimentCfg) -> Recovery:
        trajectory = [round(r.result.sentiment["frustration"], 4) for r in in_bot if r.result.sentiment]
        if not trajectory or max(trajectory) < cfg.low_point:
            return cls(trajectory, None, None)
        worst, final = max(trajectory), trajectory[-1]
        return cls(trajectory, round((worst - final) / worst, 4), final <= worst * cfg.recovered_share)

    def check(self, x: ConversationExpect, cfg: SentimentCfg) -> list[Check]:
        if not x.sentiment_recovered:
            return []
        return [Check(
            name="sentiment_recovered", ok=bool(self.recovered), category="misread_state",
            expected=f"final frustration <= {cfg.recovered_share:.0%} of the worst",
            actual=f"worst {self.worst}, final {self.final}",
        )]


def action_pairs(turns: Sequence[TurnRecord], expects: Expectations) -> list[tuple[str, str]]:
    """(expected, actual) per turn with an action expectation, for the confusion matrix: the actual action
    when it was one of those accepted, else the first accepted."""
    pairs: list[tuple[str, str]] = []
    for r in turns:
        e = expects.turns.get(r.turn)
        if e is None or e.action is None:
            continue
        accepted = e.action if isinstance(e.action, list) else [e.action]
        pairs.append((r.result.action if r.result.action in accepted else accepted[0], r.result.action))
    return pairs


def bot_turns(turns: Sequence[TurnRecord]) -> list[BotTurn]:
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


def score_support(d: Detectors, scenario: SupportScenario, run: ScenarioRun, *, scripted: bool) -> SupportScore:
    turns = run.turns
    bot = bot_turns(turns)
    x = scenario.expect
    expects = Expectations.of(scenario, run, scripted=scripted)
    repeated = d.repeated_questions(bot, dict(scenario.context))
    breaches = d.breaches(bot, forbidden=expects.forbidden)
    same_answers = d.repeated_answers(bot)

    checks = [c for r in turns for c in turn_checks(r, expects.at(r.turn), repeated)]
    checks += breach_checks(breaches, with_turn=True)
    checks += [
        Check(name="repeated_answer", ok=False, category="lost_context", turn=a.turn,
              expected="a different answer", actual=a.detail)
        for a in same_answers
    ]
    esc = escalation(turns, x, expects, scripted=scripted)
    checks += esc.checks
    packet, packet_checks = handoff(scenario, turns, esc.record, expects, scripted=scripted)
    checks += packet_checks
    in_bot = [r for r in turns if r.mode_before == "bot"]
    kept = Containment.of(in_bot, escalated=esc.record is not None, any_turns=bool(turns))
    checks += kept.check(x)
    cfg = d.config.sentiment
    mood = Recovery.of(in_bot, cfg)
    checks += mood.check(x, cfg)

    answered = [b for b in bot if b.reply and b.mode_before == "bot"]
    return SupportScore(
        id=scenario.id,
        path=run.path,
        title=scenario.title,
        tags=scenario.tags,
        catches=scenario.catches,
        source=run.source,
        status="pass" if all(c.ok for c in checks) else "fail",
        checks=checks,
        expected_escalation=esc.expected,
        expected_turn=esc.expected_turn,
        escalated=esc.record is not None,
        escalation_turn=esc.turn,
        delay=esc.delay,
        handoff=packet,
        bot_turns=len(answered),
        questions_asked=sum(1 for b in answered if d.is_question(b)),
        repeated_questions=[{"turn": q.turn, "kind": q.kind, "detail": q.detail} for q in repeated],
        repeated_answers=[{"turn": a.turn, "kind": a.kind, "detail": a.detail} for a in same_answers],
        restatements=len(kept.restating),
        restatements_noticed=len(kept.noticed),
        trajectory=mood.trajectory,
        worst=mood.worst,
        final=mood.final,
        recovery=mood.recovery,
        recovered=mood.recovered,
        breaches=[breach_record(b) for b in breaches],
        contained=kept.contained,
        regret=kept.regret,
        actions=action_pairs(turns, expects) if scripted else [],
        model_calls=[r.result.usage["model_calls"] for r in in_bot],
        tokens=[r.result.usage["prompt_tokens"] + r.result.usage["completion_tokens"] for r in in_bot],
    )
