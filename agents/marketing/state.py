"""The typed state of the marketing graph.

A marketing decision is one-shot: the graph runs once per person × campaign and is never checkpointed, so its
state carries the validated objects themselves (the request, the folded signals, the checker's verdict) rather
than JSON copies. Each node returns a partial update; run-scoped things (policy, templates, sinks) are in
:class:`tactful.agents.marketing.context.MarketingContext`, never here.
"""

from __future__ import annotations

from datetime import datetime

from typing_extensions import TypedDict

from tactful.agents.engine.seam import CopyResult
from tactful.agents.marketing.checker import Verdict
from tactful.agents.marketing.models import (
    ConciergeAlert,
    GuardCheck,
    MarketingDecision,
    MarketingMessage,
    MarketingRequest,
    RepPacket,
)
from tactful.agents.marketing.signals import Signals


class MarketingState(TypedDict, total=False):
    request: MarketingRequest
    now: datetime  # the planned send time (the request's, or the clock's)
    signals: Signals  # assess: frustration, friction, state, help and rep topics
    verdict: Verdict  # decide: send | suppress | route_to_rep with reason and factors
    draft: CopyResult | None  # write: the engine's draft
    message: MarketingMessage | None  # output_guard: the draft that passed (or its safe replacement)
    guards: list[GuardCheck]  # output_guard: what it found
    packet: RepPacket | None  # rep_packet
    concierge: ConciergeAlert | None  # concierge
    decision: MarketingDecision  # finish
