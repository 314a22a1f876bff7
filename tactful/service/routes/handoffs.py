"""The handoff queue: list, read, claim, reply as a person, resolve, return to the bot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tactful.service.deps import ConversationId, HandoffId, ServicesDep, TenantDep
from tactful.service.models import (
    ClaimIn,
    CloseIn,
    HandoffList,
    HandoffOut,
    HandoffStatus,
    HumanReplyIn,
    PriorityName,
)
from tactful.service.routes import errors

router = APIRouter(prefix="/v1/handoffs", tags=["handoffs"])
QUEUE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


@router.get("", response_model=HandoffList, summary="List handoffs", responses=errors(401, 422, 429))
async def list_handoffs(
    tenant: TenantDep,
    services: ServicesDep,
    queue: Annotated[str | None, Query(pattern=QUEUE_PATTERN)] = None,
    priority: PriorityName | None = None,
    status: Annotated[list[HandoffStatus] | None, Query(description="repeat to give several")] = None,
    conversation_id: Annotated[ConversationId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HandoffList:
    """Most urgent first, then oldest first."""
    items = await services.backend.store.handoffs(
        tenant,
        queue=queue,
        priority=priority,
        status=status or (),
        conversation_id=conversation_id,
        limit=limit,
        offset=offset,
    )
    return HandoffList(items=items, count=len(items))


@router.get("/{handoff_id}", response_model=HandoffOut, responses=errors(401, 404, 422, 429))
async def get_handoff(handoff_id: HandoffId, tenant: TenantDep, services: ServicesDep) -> HandoffOut:
    return await services.ops.handoff(tenant, handoff_id)


@router.post("/{handoff_id}/claim", response_model=HandoffOut, responses=errors(401, 404, 409, 422, 429))
async def claim_handoff(
    handoff_id: HandoffId, body: ClaimIn, tenant: TenantDep, services: ServicesDep
) -> HandoffOut:
    """An agent takes the handoff. Claiming one's own claim again is fine; someone else's is 409."""
    return await services.ops.claim(tenant, handoff_id, agent=body.agent)


@router.post("/{handoff_id}/reply", response_model=HandoffOut, responses=errors(401, 404, 409, 413, 422, 429))
async def reply_handoff(
    handoff_id: HandoffId, body: HumanReplyIn, tenant: TenantDep, services: ServicesDep
) -> HandoffOut:
    """Reply to the customer as a person: appends a ``human_agent`` message to the conversation."""
    handoff = await services.ops.reply(tenant, handoff_id, body)
    if services.outcomes is not None:
        await services.outcomes.note_reply(tenant, handoff_id)
    return handoff


@router.post("/{handoff_id}/resolve", response_model=HandoffOut, responses=errors(401, 404, 409, 422, 429))
async def resolve_handoff(
    handoff_id: HandoffId, body: CloseIn, tenant: TenantDep, services: ServicesDep
) -> HandoffOut:
    """Close the handoff as resolved; the bot answers the conversation's next message."""
    return await services.ops.close(tenant, handoff_id, body, status="resolved")


@router.post("/{handoff_id}/return", response_model=HandoffOut, responses=errors(401, 404, 409, 422, 429))
async def return_handoff(
    handoff_id: HandoffId, body: CloseIn, tenant: TenantDep, services: ServicesDep
) -> HandoffOut:
    """Hand the conversation back to the bot without resolving (mode ``bot``; its counters start afresh)."""
    return await services.ops.close(tenant, handoff_id, body, status="returned")
