"""FastAPI dependencies as ``Annotated`` aliases: the running services, and the caller's tenant (API key →
tenant, then the per-key rate limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tactful.graphs.marketing_service import MarketingService
from tactful.service.auth import KeyRing, digest
from tactful.service.backend import Backend
from tactful.service.masking import Masker
from tactful.service.metrics import Metrics
from tactful.service.models import ID_HELP, ID_PATTERN
from tactful.service.operations import Operations
from tactful.service.problems import ApiProblem
from tactful.service.ratelimit import Limiter
from tactful.service.turns import TurnService
from tactful.service.webhooks import WebhookSender
from tactful.settings import Settings

if TYPE_CHECKING:
    from tactful.service.outcomes.service import Outcomes


@dataclass
class Services:
    settings: Settings
    keyring: KeyRing
    limiter: Limiter
    metrics: Metrics
    masker: Masker
    backend: Backend
    turns: TurnService
    ops: Operations
    webhooks: WebhookSender | None
    marketing: MarketingService
    outcomes: Outcomes | None = None


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise ApiProblem("unavailable", "the service is starting or stopping", headers={"Retry-After": "5"})
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

bearer = HTTPBearer(
    auto_error=False,
    description="An API key of your tenant (`Authorization: Bearer KEY`); not needed in single-tenant mode.",
)


async def get_tenant(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    key = credentials.credentials if credentials else None
    tenant = services.keyring.tenant_for(key)
    if tenant is None:
        raise ApiProblem("unauthorized", "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})
    retry_after = await services.limiter.check(digest(key) if key else "local")
    if retry_after is not None:
        services.metrics.rate_limited.inc()
        raise ApiProblem(
            "rate_limited", f"rate limit exceeded; retry in {retry_after} s", headers={"Retry-After": str(retry_after)}
        )
    return tenant


TenantDep = Annotated[str, Depends(get_tenant)]
ConversationId = Annotated[str, Path(pattern=ID_PATTERN, description=ID_HELP)]
HandoffId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a handoff id (32 hex digits)")]
