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


def ops_required(settings: Settings, keyring: KeyRing) -> bool:
    """Whether ``/metrics`` and the details of ``/readyz`` need an API key: ``ops_require_key``, by default on
    whenever keys are configured."""
    return settings.ops_require_key if settings.ops_require_key is not None else not keyring.single_tenant


async def get_ops_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> bool:
    """The caller may see operational details (tenant names and counts): no key is needed, or it sent a known
    one. Not rate-limited (a scraper polls), and usable while the service starts (it needs no database)."""
    return _ops_access(request, credentials.credentials if credentials else None)


def get_optional_ops_access(request: Request) -> bool:
    """:func:`get_ops_access` for an endpoint that answers anyone (less without a key): the header is read here,
    so the OpenAPI document does not state a key as required."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return _ops_access(request, key.strip() if scheme.lower() == "bearer" and key.strip() else None)


def _ops_access(request: Request, key: str | None) -> bool:
    if not request.app.state.ops_require_key:
        return True
    keyring: KeyRing = request.app.state.keyring
    return not keyring.single_tenant and key is not None and keyring.tenant_for(key) is not None


OpsAccessDep = Annotated[bool, Depends(get_ops_access)]
OptionalOpsAccessDep = Annotated[bool, Depends(get_optional_ops_access)]
ConversationId = Annotated[str, Path(pattern=ID_PATTERN, description=ID_HELP)]
HandoffId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a handoff id (32 hex digits)")]
