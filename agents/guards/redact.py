"""Find and mask personal data and secrets in text: card numbers (Luhn-checked, in any common grouping), IBANs
(ISO 13616 checksum), passwords, API keys, and, when asked, e-mail addresses and phone numbers (Google's
libphonenumber via ``phonenumbers``: international formats anywhere, national formats of ``phone_regions``).
Used by the output guard and wherever text is stored or sent. Linear in the text's length."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tactful.agents.guards.literals import need

# 13-19 digits, each group separated by up to three spaces, dots or dashes ("4242  4242", "5105.1051", "4242-4242").
_CARD = re.compile(r"(?<![\d])(?:\d[ \t\u00a0.\-]{0,3}){12,18}\d(?!\d)")
# Two letters, two check digits, then 11-30 letters or digits, optionally in groups separated by one space.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])")
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB")
"""Regions whose national phone formats are recognised by default (international ``+`` formats always are)."""
_PASSWORD = re.compile(r"(?i)\b(password|passcode|passwd|pwd|pin)(\s*(?:is|was|:|=)\s*)(\S+)")
_SECRET = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b")
_KEYVAL = re.compile(r"(?i)\b(api[_ -]?key|secret|token|bearer)(\s*[:=]?\s*)([A-Za-z0-9_\-\.]{12,})")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_DIGIT = re.compile(r"\d")  # IBANs, cards and SSNs all need one: a text without a digit skips their searches
_PASSWORD_NEED, _KEYVAL_NEED = need(_PASSWORD), need(_KEYVAL)


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


def iban_ok(compact: str) -> bool:
    """ISO 13616 check: 15-34 characters, the first four moved to the end, letters as 10..35, mod 97 == 1."""
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _ibans(text: str) -> list[tuple[int, int]]:
    """Spans of checksum-valid IBANs; a match running into following words is cut back a group at a time."""
    spans = []
    for m in _IBAN.finditer(text):
        groups = list(re.finditer(r"[A-Z0-9]+", m.group()))
        while groups:
            end = groups[-1].end()
            if iban_ok(re.sub(r" ", "", m.group()[:end])):
                spans.append((m.start(), m.start() + end))
                break
            groups.pop()
    return spans


def _phones(text: str, regions: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of valid phone numbers: international formats, and the national formats of ``regions``."""
    import phonenumbers  # only with phone masking on (off by default): ~20-30 ms of start-up otherwise

    spans: set[tuple[int, int]] = set()
    for region in regions or (None,):
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            spans.add((m.start, m.end))
    return sorted(spans)


@dataclass(frozen=True)
class Finding:
    kind: str  # card | iban | password | secret | ssn | email | phone
    start: int
    end: int


def find_sensitive(
    text: str,
    *,
    emails: bool = False,
    phones: bool = False,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> list[Finding]:
    """Spans of sensitive data in ``text``, in order, without overlaps (of two that overlap, the first wins)."""
    digits_in = _DIGIT.search(text) is not None
    lowered = text.lower() if text.isascii() else text
    found: list[Finding] = [Finding("iban", start, end) for start, end in _ibans(text)] if digits_in else []
    for m in _CARD.finditer(text) if digits_in else ():
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(Finding("card", m.start(), m.end()))
    if _PASSWORD_NEED is None or _PASSWORD_NEED.may_match(text, lowered):
        for m in _PASSWORD.finditer(text):
            found.append(Finding("password", m.start(3), m.end(3)))
    for m in _SECRET.finditer(text):
        found.append(Finding("secret", m.start(), m.end()))
    if _KEYVAL_NEED is None or _KEYVAL_NEED.may_match(text, lowered):
        for m in _KEYVAL.finditer(text):
            found.append(Finding("secret", m.start(3), m.end(3)))
    for m in _SSN.finditer(text) if digits_in else ():
        found.append(Finding("ssn", m.start(), m.end()))
    if emails:
        for m in _EMAIL.finditer(text):
            found.append(Finding("email", m.start(), m.end()))
    if phones:
        found.extend(Finding("phone", start, end) for start, end in _phones(text, phone_regions))
    found.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for f in found:
        if merged and f.start < merged[-1].end:
            continue
        merged.append(f)
    return merged


def mask(
    text: str,
    *,
    emails: bool = False,
    phones: bool = False,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> str:
    """``text`` with every sensitive span replaced by ``[KIND]`` (cards keep their last four digits)."""
    out: list[str] = []
    pos = 0
    for f in find_sensitive(text, emails=emails, phones=phones, phone_regions=phone_regions):
        out.append(text[pos : f.start])
        if f.kind == "card":
            digits = re.sub(r"\D", "", text[f.start : f.end])
            out.append(f"[CARD •••• {digits[-4:]}]")
        else:
            out.append(f"[{f.kind.upper()}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
