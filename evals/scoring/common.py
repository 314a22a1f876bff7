"""Checks both products share: text that must (not) contain phrases, and breaches as failed checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tactful.evals.detectors import Breach
from tactful.evals.scoring.score import Check

SHOWN_CHARS = 200  # how much of a reply or message a failed check quotes


def fmt(value: object) -> str:
    """An expectation or value as the report shows it: lists joined with `` | ``, ``None`` empty."""
    if isinstance(value, (list, tuple)):
        return " | ".join(str(v) for v in value)
    return "" if value is None else str(value)


def phrase_checks(
    text: str,
    *,
    prefix: str,
    contains: Sequence[str],
    contains_any: Sequence[str],
    not_contains: Sequence[str],
    shown: str,
    turn: int | None = None,
) -> list[Check]:
    """``{prefix}_contains`` (each phrase), ``{prefix}_contains_any`` (one of them), ``{prefix}_not_contains``
    (none of them), case-insensitive; failures are ``wrong_reply``."""
    low = text.lower()
    out = [
        Check(
            name=f"{prefix}_contains",
            ok=phrase.lower() in low,
            category="wrong_reply",
            turn=turn,
            expected=phrase,
            actual=shown,
        )
        for phrase in contains
    ]
    if contains_any:
        out.append(
            Check(
                name=f"{prefix}_contains_any",
                ok=any(p.lower() in low for p in contains_any),
                category="wrong_reply",
                turn=turn,
                expected=fmt(contains_any),
                actual=shown,
            )
        )
    out.extend(
        Check(
            name=f"{prefix}_not_contains",
            ok=phrase.lower() not in low,
            category="wrong_reply",
            turn=turn,
            expected=f"not {phrase!r}",
            actual=shown,
        )
        for phrase in not_contains
    )
    return out


def breach_checks(breaches: Iterable[Breach], *, with_turn: bool) -> list[Check]:
    """One failed ``breach.<kind>`` check per breach (``policy_breach``)."""
    return [
        Check(
            name=f"breach.{b.kind}",
            ok=False,
            category="policy_breach",
            turn=b.turn if with_turn else None,
            expected="no policy breach",
            actual=b.detail,
        )
        for b in breaches
    ]


def breach_record(b: Breach) -> dict[str, Any]:
    return {"turn": b.turn, "kind": b.kind, "detail": b.detail}
