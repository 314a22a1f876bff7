"""Suite metrics from scenario scores. Every metric here is defined in ``docs/evals.md``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import mean

from pydantic import BaseModel, ConfigDict

from tactful.evals.scoring import FAILURE_TYPES, MarketingScore, ScenarioScore, SupportScore

SUPPORT_ACTIONS = ("respond", "clarify", "assist", "escalate", "none")
MARKETING_DECISIONS = ("send", "suppress", "route_to_rep")


class Confusion(BaseModel):
    model_config = ConfigDict(defer_build=True)

    labels: list[str]
    matrix: list[list[int]]  # rows: expected, columns: actual

    @classmethod
    def build(cls, pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> Confusion:
        names = list(labels) + sorted({x for p in pairs for x in p} - set(labels))
        index = {name: i for i, name in enumerate(names)}
        matrix = [[0] * len(names) for _ in names]
        for expected, actual in pairs:
            matrix[index[expected]][index[actual]] += 1
        return cls(labels=names, matrix=matrix)


class SuiteMetrics(BaseModel):
    model_config = ConfigDict(defer_build=True)

    scenarios: int
    passed: int
    failed: int
    errors: int
    skipped: int
    unreadable_files: int
    pass_rate: float
    support_scenarios: int
    marketing_scenarios: int
    # outcome
    containment_rate: float
    containment_without_regret: float
    containment_when_expected: float | None
    escalation_precision: float | None
    escalation_recall: float | None
    escalation_f1: float | None
    escalation_delay_mean: float | None
    escalation_late_rate: float | None
    handoff_completeness: float | None
    # experience
    repeated_question_rate: float
    repeated_answer_rate: float
    repeated_questions: int
    questions_asked: int
    user_restatements: float
    restatements_noticed: float | None
    sentiment_recovery: float | None
    sentiment_recovered_rate: float | None
    # safety
    policy_breaches: int
    breaches_by_kind: dict[str, int]
    failures_by_type: dict[str, int]
    scenarios_by_failure_type: dict[str, int]
    # cost
    bot_turns: int
    model_calls_per_turn: float
    tokens_per_turn: float
    # marketing
    marketing_decision_accuracy: float | None
    route_to_rep_precision: float | None
    route_to_rep_recall: float | None
    suppress_precision: float | None
    suppress_recall: float | None
    # charts
    action_confusion: Confusion
    marketing_confusion: Confusion

    def gateable(self) -> dict[str, float | None]:
        """The scalar metrics a gate may name."""
        return {
            k: v
            for k, v in self.model_dump().items()
            if (isinstance(v, (int, float)) and not isinstance(v, bool)) or v is None
        }


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _pr(pairs: Sequence[tuple[bool, bool]]) -> tuple[float | None, float | None, float | None]:
    tp = sum(1 for e, a in pairs if e and a)
    fp = sum(1 for e, a in pairs if not e and a)
    fn = sum(1 for e, a in pairs if e and not a)
    p = _ratio(tp, tp + fp)
    r = _ratio(tp, tp + fn)
    f1 = (
        round(2 * p * r / (p + r), 4)
        if p is not None and r is not None and p + r
        else (0.0 if p is not None and r is not None else None)
    )
    return p, r, f1


def compute(scores: Sequence[ScenarioScore], *, unreadable_files: int = 0) -> SuiteMetrics:
    ran = [s for s in scores if s.status in {"pass", "fail"}]
    support = [s for s in ran if isinstance(s, SupportScore)]
    marketing = [s for s in ran if isinstance(s, MarketingScore)]
    counted = [s for s in scores if s.status != "skipped"]

    contained = [s for s in support if s.contained]
    clean = [s for s in contained if not s.regret]
    expected_contained = [s for s in support if s.expected_escalation is False]

    labelled = [s for s in support if s.expected_escalation is not None]
    p, r, f1 = _pr([(bool(s.expected_escalation), s.escalated) for s in labelled])
    delays = [s.delay for s in labelled if s.expected_escalation and s.escalated and s.delay is not None]
    packets = [s.handoff.completeness for s in support if s.handoff is not None]

    questions = sum(s.questions_asked for s in support)
    repeated_turns = sum(len({q["turn"] for q in s.repeated_questions}) for s in support)
    restated = sum(s.restatements for s in support)
    low_points = [s for s in support if s.recovery is not None and not s.escalated]

    breaches = Counter(b["kind"] for s in ran for b in s.breaches)
    failures: Counter[str] = Counter({t: 0 for t in FAILURE_TYPES})
    by_scenario: Counter[str] = Counter({t: 0 for t in FAILURE_TYPES})
    for s in scores:
        kinds = [c.category for c in s.failures]
        failures.update(kinds)
        by_scenario.update(set(kinds))

    calls = [c for s in support for c in s.model_calls]
    tokens = [t for s in support for t in s.tokens]

    mk_pairs = [(s.expected_decision or "", s.decision or "") for s in marketing]
    rp, rr, _ = _pr([(e == "route_to_rep", a == "route_to_rep") for e, a in mk_pairs])
    sp, sr, _ = _pr([(e == "suppress", a == "suppress") for e, a in mk_pairs])

    return SuiteMetrics(
        scenarios=len(scores),
        passed=sum(1 for s in scores if s.status == "pass"),
        failed=sum(1 for s in scores if s.status == "fail"),
        errors=sum(1 for s in scores if s.status == "error"),
        skipped=sum(1 for s in scores if s.status == "skipped"),
        unreadable_files=unreadable_files,
        pass_rate=_ratio(sum(1 for s in scores if s.status == "pass"), len(counted)) or 0.0,
        support_scenarios=len(support),
        marketing_scenarios=len(marketing),
        containment_rate=_ratio(len(contained), len(support)) or 0.0,
        containment_without_regret=_ratio(len(clean), len(support)) or 0.0,
        containment_when_expected=_ratio(
            sum(1 for s in expected_contained if s.contained and not s.regret), len(expected_contained)
        ),
        escalation_precision=p,
        escalation_recall=r,
        escalation_f1=f1,
        escalation_delay_mean=round(mean(delays), 4) if delays else None,
        escalation_late_rate=_ratio(sum(1 for d in delays if d > 0), len(delays)),
        handoff_completeness=round(mean(packets), 4) if packets else None,
        repeated_question_rate=_ratio(repeated_turns, questions) or 0.0,
        repeated_answer_rate=_ratio(
            sum(len(s.repeated_answers) for s in support), sum(s.bot_turns for s in support)
        )
        or 0.0,
        repeated_questions=repeated_turns,
        questions_asked=questions,
        user_restatements=_ratio(restated, len(support)) or 0.0,
        restatements_noticed=_ratio(sum(s.restatements_noticed for s in support), restated),
        sentiment_recovery=round(mean(s.recovery for s in low_points if s.recovery is not None), 4)
        if low_points
        else None,
        sentiment_recovered_rate=_ratio(sum(1 for s in low_points if s.recovered), len(low_points)),
        policy_breaches=sum(breaches.values()),
        breaches_by_kind=dict(sorted(breaches.items())),
        failures_by_type=dict(failures),
        scenarios_by_failure_type=dict(by_scenario),
        bot_turns=len(calls),
        model_calls_per_turn=round(mean(calls), 4) if calls else 0.0,
        tokens_per_turn=round(mean(tokens), 2) if tokens else 0.0,
        marketing_decision_accuracy=_ratio(sum(1 for e, a in mk_pairs if e == a), len(mk_pairs)),
        route_to_rep_precision=rp,
        route_to_rep_recall=rr,
        suppress_precision=sp,
        suppress_recall=sr,
        action_confusion=Confusion.build([a for s in support for a in s.actions], SUPPORT_ACTIONS),
        marketing_confusion=Confusion.build(mk_pairs, MARKETING_DECISIONS),
    )
