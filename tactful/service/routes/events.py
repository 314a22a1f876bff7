"""Behavioural events for a person's open conversation."""

from __future__ import annotations

from fastapi import APIRouter

from tactful.service.deps import ServicesDep, TenantDep
from tactful.service.models import EventsIn, EventsOut
from tactful.service.routes import errors

router = APIRouter(prefix="/v1", tags=["events"])


@router.post(
    "/events",
    response_model=EventsOut,
    summary="Fold behavioural events (and context) into a conversation",
    responses=errors(401, 404, 409, 413, 422, 429, 503),
)
async def post_events(body: EventsIn, tenant: TenantDep, services: ServicesDep) -> EventsOut:
    """Address the conversation by ``conversation_id``, or by ``person_id`` (the ``account_id`` of a message's
    context: that person's most recent conversation). Updates its context and re-scores its sentiment now;
    the next turn sees the events."""
    return await services.ops.add_events(tenant, body)
