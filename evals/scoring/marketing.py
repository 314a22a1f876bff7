"""Score a marketing request: the decision and its reason, the message's wording, the decision factors, the
concierge alert, and breaches in the message (forbidden promises, promotion during a hold)."""

from __future__ import annotations

from tactful.evals.detectors import Breach, Detectors
from tactful.evals.records import MarketingRecord, ScenarioRun
from tactful.evals.scenario import MarketingExpect, MarketingScenario, matches
from tactful.evals.scoring.common import SHOWN_CHARS, breach_checks, breach_record, fmt, phrase_checks
from tactful.evals.scoring.score import Check, FailureType, MarketingScore


def accepted(x: MarketingExpect) -> list[str]:
    return list(x.decision) if isinstance(x.decision, list) else [x.decision]


def decision(rec: MarketingRecord, x: MarketingExpect) -> list[Check]:
    """The decision is one of those accepted; sending where a suppression was expected is a policy breach."""
    wanted = accepted(x)
    ok = rec.decision in wanted
    sent_in_a_hold = not ok and "suppress" in wanted and rec.decision == "send"
    category: FailureType = "policy_breach" if sent_in_a_hold else "bad_timing"
    return [Check(name="decision", ok=ok, category=category, expected=fmt(x.decision), actual=rec.decision)]


def reason(rec: MarketingRecord, x: MarketingExpect) -> list[Check]:
    if x.reason is None:
        return []
    return [Check(name="reason", ok=matches(x.reason, rec.reason), category="misread_state", expected=fmt(x.reason),
                  actual=rec.reason)]


def message_text(rec: MarketingRecord, x: MarketingExpect) -> list[Check]:
    text = rec.message or ""
    return phrase_checks(
        text,
        prefix="message",
        contains=x.message_contains,
        contains_any=x.message_contains_any,
        not_contains=x.message_not_contains,
        shown=text[:SHOWN_CHARS],
    )


def factors(rec: MarketingRecord, x: MarketingExpect) -> list[Check]:
    """Each named factor is among those the decision recorded."""
    names = {str(f.get("name")) for f in rec.factors}
    return [
        Check(name="factors_include", ok=factor in names, category="misread_state", expected=factor,
              actual=fmt(sorted(names)))
        for factor in x.factors_include
    ]


def concierge(rec: MarketingRecord, x: MarketingExpect) -> list[Check]:
    if x.concierge_alert is None:
        return []
    alerted = bool(rec.concierge_alert)
    return [Check(name="concierge_alert", ok=alerted == x.concierge_alert, category="bad_timing",
                  expected=str(x.concierge_alert), actual=str(alerted))]


def message_breaches(d: Detectors, scenario: MarketingScenario, rec: MarketingRecord) -> list[Breach]:
    """Forbidden text in the message, and a promotion during a hold unless the person asked about offers."""
    text = rec.message or ""
    if not text:
        return []
    x = scenario.expect
    out = d.text_breaches(text, turn=1, forbidden=x.forbidden)
    promo = d.promotional(text)
    inquiry = str(scenario.request.get("inquiry") or "")
    if x.hold and promo and not d.asked_about_offers(inquiry):
        out.append(Breach(1, "promotion_during_hold", f"promoted ({promo!r}) during a hold"))
    return out


CHECKS = (decision, reason, message_text, factors, concierge)


def score_marketing(d: Detectors, scenario: MarketingScenario, run: ScenarioRun) -> MarketingScore:
    rec = run.marketing
    assert rec is not None
    x = scenario.expect
    checks = [c for check in CHECKS for c in check(rec, x)]
    breaches = message_breaches(d, scenario, rec)
    checks += breach_checks(breaches, with_turn=False)
    wanted = accepted(x)
    return MarketingScore(
        id=scenario.id,
        path=run.path,
        title=scenario.title,
        tags=scenario.tags,
        catches=scenario.catches,
        source=run.source,
        status="pass" if all(c.ok for c in checks) else "fail",
        checks=checks,
        breaches=[breach_record(b) for b in breaches],
        expected_decision=rec.decision if rec.decision in wanted else wanted[0],
        decision=rec.decision,
    )
