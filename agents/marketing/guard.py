"""The marketing output guard: deterministic checks on a draft, whoever wrote it (template or model).

No promotional text during a hold or to a person who gets help instead; no discount unless the decision allows
one (never to a leaving customer after repeated failures unless the policy says so) and never above the limit;
nothing that contradicts consent (sending on, or inviting contact through, a channel the person has not agreed
to); no personal data or secrets; no body longer than the channel takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tactful.agents.engine.seam import CopyResult
from tactful.agents.guards.redact import find_sensitive
from tactful.agents.marketing.checker import Verdict, consent_ok
from tactful.agents.marketing.models import GuardCheck, MarketingRequest
from tactful.agents.marketing.policy import MarketingPolicy
from tactful.agents.marketing.signals import Signals

_PCT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%\s*(?:off|discount)", re.IGNORECASE)

Code = str


@dataclass(frozen=True)
class Finding:
    code: Code
    detail: str

    def as_check(self, *, fixed: bool) -> GuardCheck:
        return GuardCheck(code=self.code, detail=self.detail, fixed=fixed)  # type: ignore[arg-type]


def check_draft(
    draft: CopyResult,
    *,
    request: MarketingRequest,
    verdict: Verdict,
    signals: Signals,
    policy: MarketingPolicy,
) -> list[Finding]:
    g = policy.guard
    text = f"{draft.subject or ''}\n{draft.body}"
    found: list[Finding] = []

    promo = g.promotional_re.search(text) if g.promotional_re is not None else None
    if promo and verdict.holds:
        found.append(
            Finding("promo_during_hold", f"'{promo.group(0)}' while on hold ({', '.join(verdict.holds)})")
        )
    elif promo and verdict.kind == "help":
        found.append(
            Finding("promo_to_struggling", f"'{promo.group(0)}' in a help message ({signals.state})")
        )

    discount = g.discount_re.search(text) if g.discount_re is not None else None
    if discount and not (verdict.kind == "discount_offer" and verdict.discount_allowed):
        why = (
            "leaving after repeated failures"
            if signals.state == "leaving" and signals.friction
            else "not offered"
        )
        found.append(Finding("discount_not_allowed", f"'{discount.group(0)}': {why}"))
    for m in _PCT.finditer(text):
        if float(m.group(1)) > policy.discount.max_pct:
            found.append(Finding("discount_over_limit", f"{m.group(0)} > {policy.discount.max_pct:g}%"))
            break

    if verdict.channel is None or not consent_ok(request, policy, verdict.channel):
        found.append(Finding("contradicts_consent", f"no consent to send on {verdict.channel}"))
    for channel, pattern in g.mention_re.items():
        mention = pattern.search(text)
        if mention and not consent_ok(request, policy, channel):
            found.append(Finding("contradicts_consent", f"'{mention.group(0)}' invites contact by {channel}"))
            break

    sensitive = find_sensitive(text)
    if sensitive:
        found.append(Finding("personal_data", ",".join(sorted({f.kind for f in sensitive}))))

    limit = policy.channels.max_chars.get(verdict.channel) if verdict.channel else None
    if limit is not None and len(draft.body) > limit:
        found.append(Finding("too_long", f"{len(draft.body)} characters > {limit} for {verdict.channel}"))
    return found
