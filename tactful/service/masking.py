"""Masking on store and send: card numbers, IBANs, passwords and secrets (and, by setting, e-mails and phone
numbers) never reach stored transcripts, handoff packets, API answers, the console, logs, webhooks or the model.
Built on :func:`tactful.agents.guards.redact.mask`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from tactful.agents.guards.redact import DEFAULT_PHONE_REGIONS, mask
from tactful.agents.state import AccountContext, Event, HandoffPacket

T = TypeVar("T")

IDENTIFIERS = frozenset({"id", "conversation_id", "handoff_id", "message_id", "request_id", "transcript_ref", "tenant"})
"""Keys whose values are the service's or the client's own identifiers: never masked on the way out (a conversation
id that is an e-mail address must still reach a webhook receiver as sent, or it cannot be matched)."""


class Masker:
    """Masks text and JSON-shaped values with the service's e-mail / phone settings."""

    def __init__(
        self, *, emails: bool = False, phones: bool = False, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS
    ) -> None:
        self.emails = emails
        self.phones = phones
        self.phone_regions = tuple(phone_regions)

    def text(self, text: str) -> str:
        return mask(text, emails=self.emails, phones=self.phones, phone_regions=self.phone_regions)

    def deep(self, value: T, *, keep: frozenset[str] = frozenset()) -> T:
        """Every string inside ``value`` (dicts, lists, tuples) masked, except the values of the dict keys in
        ``keep`` (identifiers the receiver matches on); other values unchanged."""
        return cast(T, self._deep(value, keep))

    def _deep(self, value: object, keep: frozenset[str]) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: v if k in keep and isinstance(v, str) else self._deep(v, keep) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._deep(v, keep) for v in value)
        return value

    def context(self, context: AccountContext) -> AccountContext:
        return self.deep(context)

    def events(self, events: Sequence[Event]) -> list[Event]:
        return [self.deep(e) for e in events]

    def packet(self, packet: HandoffPacket) -> HandoffPacket:
        out: HandoffPacket = dict(packet)  # type: ignore[assignment]
        out["summary"] = self.text(packet["summary"])
        out["tried"] = [self.text(t) for t in packet["tried"]]
        out["transcript"] = [{**m, "text": self.text(m["text"])} for m in packet["transcript"]]
        out["account"] = self.context(packet["account"])
        return out


class MaskingFilter(logging.Filter):
    """A logging filter that masks each record's formatted message (install it on handlers)."""

    def __init__(
        self,
        name: str = "",
        *,
        emails: bool = False,
        phones: bool = False,
        phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        super().__init__(name)
        self.masker = Masker(emails=emails, phones=phones, phone_regions=phone_regions)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.masker.text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def logging_filter_config(
    *, emails: bool, phones: bool, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` entry for :class:`MaskingFilter`."""
    return {
        "()": f"{__name__}.MaskingFilter",
        "emails": emails,
        "phones": phones,
        "phone_regions": list(phone_regions),
    }
