"""Find and mask personal data and secrets in text: card numbers (Luhn-checked), passwords, API keys, and,
when asked, e-mail addresses and phone numbers. Used by the output guard and wherever text is stored or sent."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_PASSWORD = re.compile(
    r"(?i)\b(password|passcode|passwd|pwd|pin)(\s*(?:is|was|:|=)\s*)(\S+)"
)
_SECRET = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b")
_KEYVAL = re.compile(r"(?i)\b(api[_ -]?key|secret|token|bearer)(\s*[:=]?\s*)([A-Za-z0-9_\-\.]{12,})")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<!\w)\+?\d{1,3}?[\s.-]?\(?\d{2,4}\)?[\s.-]?\d{3}[\s.-]?\d{3,4}(?!\w)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class Finding:
    kind: str  # card | password | secret | ssn | email | phone
    start: int
    end: int


def find_sensitive(text: str, *, emails: bool = False, phones: bool = False) -> list[Finding]:
    """Spans of sensitive data in ``text``, in order, without overlaps."""
    found: list[Finding] = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(Finding("card", m.start(), m.end()))
    for m in _PASSWORD.finditer(text):
        found.append(Finding("password", m.start(3), m.end(3)))
    for m in _SECRET.finditer(text):
        found.append(Finding("secret", m.start(), m.end()))
    for m in _KEYVAL.finditer(text):
        found.append(Finding("secret", m.start(3), m.end(3)))
    for m in _SSN.finditer(text):
        found.append(Finding("ssn", m.start(), m.end()))
    if emails:
        for m in _EMAIL.finditer(text):
            found.append(Finding("email", m.start(), m.end()))
    if phones:
        for m in _PHONE.finditer(text):
            if len(re.sub(r"\D", "", m.group())) >= 9:
                found.append(Finding("phone", m.start(), m.end()))
    found.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for f in found:
        if merged and f.start < merged[-1].end:
            continue
        merged.append(f)
    return merged


def mask(text: str, *, emails: bool = False, phones: bool = False) -> str:
    """``text`` with every sensitive span replaced by ``[KIND]`` (cards keep their last four digits)."""
    out: list[str] = []
    pos = 0
    for f in find_sensitive(text, emails=emails, phones=phones):
        out.append(text[pos : f.start])
        if f.kind == "card":
            digits = re.sub(r"\D", "", text[f.start : f.end])
            out.append(f"[CARD •••• {digits[-4:]}]")
        else:
            out.append(f"[{f.kind.upper()}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
