"""Outcome routes: a person's label on a handoff, a customer's rating, and the live metrics summary."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from tactful.service.deps import ConversationId, HandoffId, ServicesDep, TenantDep
from tactful.service.outcomes.models import FeedbackIn, FeedbackOut, MetricsSummary, RatingIn, RatingOut
from tactful.service.outcomes.service import Outcomes
from tactful.service.problems import ApiProblem
from tactful.service.routes import errors

router = APIRouter(tags=["outcomes"])
NAME = r"^[A-Za-z0-9_.:-]{1,64}$"
ISO_TIME = (
    r"^(19[7-9][0-9]|[2-8][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)


def parse_time(text: str) -> datetime:
    """A time ``ISO_TIME`` matched (a day past the month's end rolls over, e.g. 02-30 is 03-02 or 03-01)."""
    m = re.match(ISO_TIME, text)
    if m is None:
        raise ApiProblem("invalid_request", "until: an ISO-8601 time with a UTC offset, e.g. 2026-03-01T00:00:00Z")
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    zone = UTC if offset == "Z" else datetime.strptime(offset.replace(":", ""), "%z").tzinfo
    start = datetime(int(year), int(month), 1, int(hour), int(minute), int(second or 0), tzinfo=zone)
    return start + timedelta(days=int(day) - 1, microseconds=int((fraction or "0").ljust(6, "0")))


def outcomes_of(services: ServicesDep) -> Outcomes:
    if services.outcomes is None:
        raise ApiProblem("unavailable", "outcomes are not recorded by this service", headers={"Retry-After": "5"})
    return services.outcomes


@router.post(
    "/v1/handoffs/{handoff_id}/feedback",
    response_model=FeedbackOut,
    summary="Say whether a handoff was needed",
    responses=errors(401, 404, 422, 429),
)
async def handoff_feedback(
    handoff_id: HandoffId, body: FeedbackIn, tenant: TenantDep, services: ServicesDep
) -> FeedbackOut:
    """``needed``, ``automatable`` (the bot could have handled it), ``wrong_queue`` or ``packet_missing``, with an
    optional note. Stored with the decision's factors, the policy version and the turn; a later label replaces
    an earlier one."""
    return await outcomes_of(services).feedback(tenant, handoff_id, body)


@router.post(
    "/v1/conversations/{conversation_id}/rating",
    response_model=RatingOut,
    summary="The customer's rating of the conversation",
    responses=errors(401, 404, 422, 429),
)
async def rate_conversation(
    conversation_id: ConversationId, body: RatingIn, tenant: TenantDep, services: ServicesDep
) -> RatingOut:
    """1-5 and, optionally, one word; for the conversation's latest turn (rating it again replaces it)."""
    return await outcomes_of(services).rating(tenant, conversation_id, body)


@router.get(
    "/v1/metrics/summary",
    response_model=MetricsSummary,
    summary="Live metrics from the store",
    responses=errors(401, 422, 429),
)
async def metrics_summary(
    tenant: TenantDep,
    services: ServicesDep,
    days: Annotated[float, Query(gt=0, le=366, description="window length, ending at `until`")] = 30,
    until: Annotated[
        str | None,
        Query(pattern=ISO_TIME, description="end of the window, ISO-8601 with a UTC offset; default now"),
    ] = None,
    intent: Annotated[str | None, Query(pattern=NAME)] = None,
    queue: Annotated[str | None, Query(pattern=NAME)] = None,
) -> MetricsSummary:
    """Containment without regret, escalation rate and precision, handoff completeness, time to first human
    reply and to resolution, negative-sentiment recovery, restatements, requests for a person, failures by type;
    for the tenant and by intent, queue and day, over conversations started in the window."""
    end = parse_time(until) if until is not None else None
    return await outcomes_of(services).summary(tenant, days=days, until=end, intent=intent, queue=queue)
