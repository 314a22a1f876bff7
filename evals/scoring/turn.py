"""The per-turn expectations of a scripted support conversation, one named check each.

Each check reads one :class:`TurnRecord` against its :class:`TurnExpect` and returns the checks it made (none
when the expectation is not set). :func:`turn_checks` runs them all, in the order the report lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from tactful.evals.detectors import RepeatedQuestion
from tactful.evals.records import TurnRecord
from tactful.evals.scenario import TurnExpect, matches
from tactful.evals.scoring.common import SHOWN_CHARS, fmt, phrase_checks
from tactful.evals.scoring.score import Check, FailureType

TurnCheck = Callable[[TurnRecord, TurnExpect], list[Check]]


def _reply(r: TurnRecord) -> str:
    return r.result.reply or ""


def _shown(r: TurnRecord) -> str:
    reply = _reply(r)
    return reply[:SHOWN_CHARS] if reply else "(silent)"


def action(r: TurnRecord, e: TurnExpect) -> list[Check]:
    """The action taken is the expected one (or one of them); ``not_action`` rules some out."""
    got = r.result.action
    out: list[Check] = []
    if e.action is not None:
        accepted = e.action if isinstance(e.action, list) else [e.action]
        out.append(
            Check(name="action", ok=got in accepted, category="bad_timing", turn=r.turn, expected=fmt(e.action),
                  actual=got)
        )
    out.extend(
        Check(name="not_action", ok=got != bad, category="bad_timing", turn=r.turn, expected=f"not {bad}",
              actual=got)
        for bad in e.not_action
    )
    return out


def intent(r: TurnRecord, e: TurnExpect) -> list[Check]:
    if e.intent is None:
        return []
    label = r.result.intent["label"] if r.result.intent else None
    return [
        Check(name="intent", ok=matches(e.intent, label), category="wrong_intent", turn=r.turn,
              expected=fmt(e.intent), actual=fmt(label))
    ]


def handoff(r: TurnRecord, e: TurnExpect) -> list[Check]:
    """A turn expecting a handoff escalated with a packet (the packet itself is scored once, per conversation)."""
    res = r.result
    if e.handoff is None or (res.handoff is not None and res.action == "escalate"):
        return []
    return [Check(name="handoff", ok=False, category="bad_timing", turn=r.turn, expected="a handoff",
                  actual=res.action)]


def reply_text(r: TurnRecord, e: TurnExpect) -> list[Check]:
    return phrase_checks(
        _reply(r),
        prefix="reply",
        contains=e.reply_contains,
        contains_any=e.reply_contains_any,
        not_contains=e.reply_not_contains,
        shown=_shown(r),
        turn=r.turn,
    )


def reply_length(r: TurnRecord, e: TurnExpect) -> list[Check]:
    reply = _reply(r)
    if e.reply_max_words is None or not reply:
        return []
    n = len(reply.split())
    return [
        Check(name="reply_max_words", ok=n <= e.reply_max_words, category="wrong_reply", turn=r.turn,
              expected=f"<= {e.reply_max_words} words", actual=f"{n} words")
    ]


def silence(r: TurnRecord, e: TurnExpect) -> list[Check]:
    """Silent (no reply, no action) or not; speaking while a person owns the conversation is a breach."""
    if e.silent is None:
        return []
    reply = _reply(r)
    silent = not reply and r.result.action == "none"
    category: FailureType = "policy_breach" if r.mode_before == "human" else "bad_timing"
    return [
        Check(name="silent", ok=silent == e.silent, category=category, turn=r.turn,
              expected="silent" if e.silent else "a reply", actual="silent" if silent else reply[:SHOWN_CHARS])
    ]


def guard(r: TurnRecord, e: TurnExpect) -> list[Check]:
    if e.guard is None:
        return []
    tripped = [g["reason"] for g in r.result.guards if g["tripped"]]
    return [
        Check(name="guard", ok=any(matches(e.guard, reason) for reason in tripped), category="policy_breach",
              turn=r.turn, expected=fmt(e.guard), actual=fmt(tripped) or "no guard tripped")
    ]


def sentiment(r: TurnRecord, e: TurnExpect) -> list[Check]:
    """The sentiment reading: label in / not in a set, frustration bounds, hurried."""
    x = e.sentiment
    if x is None:
        return []
    s = r.result.sentiment
    t = r.turn
    out: list[Check] = []
    label = s["label"] if s else None
    if x.label_in is not None:
        out.append(Check(name="sentiment.label", ok=label in x.label_in, category="misread_state", turn=t,
                         expected=fmt(x.label_in), actual=fmt(label)))
    if x.label_not_in is not None:
        out.append(Check(name="sentiment.label", ok=label not in x.label_not_in, category="misread_state", turn=t,
                         expected=f"not {fmt(x.label_not_in)}", actual=fmt(label)))
    f = s["frustration"] if s else None
    if x.frustration_at_most is not None:
        out.append(Check(name="sentiment.frustration", ok=f is not None and f <= x.frustration_at_most,
                         category="misread_state", turn=t, expected=f"<= {x.frustration_at_most}", actual=fmt(f)))
    if x.frustration_at_least is not None:
        out.append(Check(name="sentiment.frustration", ok=f is not None and f >= x.frustration_at_least,
                         category="misread_state", turn=t, expected=f">= {x.frustration_at_least}", actual=fmt(f)))
    if x.hurried is not None:
        hurried = s["hurried"] if s else None
        out.append(Check(name="sentiment.hurried", ok=hurried == x.hurried, category="misread_state", turn=t,
                         expected=str(x.hurried), actual=fmt(hurried)))
    return out


def repeated_question(r: TurnRecord, e: TurnExpect, *, repeated: Sequence[RepeatedQuestion]) -> list[Check]:
    """The bot asked again for something it had already asked or been told (``no_repeated_question``)."""
    mine = [q for q in repeated if q.turn == r.turn]
    if not e.no_repeated_question or not mine:
        return []
    return [
        Check(name="repeated_question", ok=False, category="lost_context", turn=r.turn,
              expected="no repeated question", actual="; ".join(q.detail for q in mine))
    ]


def turn_checks(r: TurnRecord, e: TurnExpect, repeated: Sequence[RepeatedQuestion]) -> list[Check]:
    """Every per-turn check of one turn, in report order."""
    checks: tuple[TurnCheck, ...] = (
        action,
        intent,
        handoff,
        reply_text,
        reply_length,
        partial(repeated_question, repeated=repeated),
        silence,
        guard,
        sentiment,
    )
    return [c for check in checks for c in check(r, e)]
