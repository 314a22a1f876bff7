"""The marketing message generator over HTTP: one decision per request (send, suppress or route to a rep)."""

from __future__ import annotations

from fastapi import APIRouter

from tactful.agents.marketing.models import MarketingDecision, MarketingRequest
from tactful.service.deps import ServicesDep, TenantDep
from tactful.service.routes import errors

router = APIRouter(prefix="/v1/marketing", tags=["marketing"])


@router.post(
    "/messages",
    response_model=MarketingDecision,
    summary="Decide and write one marketing message",
    responses=errors(401, 413, 422, 429),
)
async def post_marketing_message(
    body: MarketingRequest, tenant: TenantDep, services: ServicesDep
) -> MarketingDecision:
    """Given a person's profile, recent events and a campaign goal: a message whose tone fits their state, a
    suppression (with the reason and, for quiet hours, when to retry), or a hand-off to a human rep. A
    high-value account showing frustration also alerts its account manager (the signed webhook)."""
    return await services.marketing.decide(body, tenant=tenant)
