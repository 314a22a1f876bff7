"""Outcome routes: a person's label on a handoff, a customer's rating, and the live metrics summary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from tactful.service.deps import ConversationId, HandoffId, ServicesDep, TenantDep
from tactful.service.outcomes.models import FeedbackIn, FeedbackOut, MetricsSummary, RatingIn, RatingOut
from tactful.service.outcomes.service import Outcomes
from tactful.service.problems import ApiProblem
from tactful.service.routes import errors

router = APIRouter(tags=["outcomes"])
NAME = r"^[A-Za-z0-9_.:-]{1,64}$"
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$"


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
    end = None
    if until is not None:
        try:
            end = datetime.fromisoformat(until)
        except ValueError as exc:
            raise ApiProblem("invalid_request", f"until: not a valid time ({exc})") from exc
        if not 1970 <= end.year <= 9000:
            raise ApiProblem("invalid_request", "until: a year from 1970 to 9000")
    return await outcomes_of(services).summary(tenant, days=days, until=end, intent=intent, queue=queue)
