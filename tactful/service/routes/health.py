"""Liveness, readiness and Prometheus metrics. ``/metrics`` names tenants and ``/readyz`` counts them: with
``ops_require_key`` (on by default when API keys are configured) ``/metrics`` needs a key and ``/readyz`` leaves
the count out without one (so a container probe still works with no key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tactful.service.deps import OpsAccessDep, OptionalOpsAccessDep, ServicesDep
from tactful.service.models import Health
from tactful.service.problems import ApiProblem

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Ready: policies loaded, database answering",
    responses={503: {"description": "not ready"}},
)
async def readyz(services: ServicesDep, ops_access: OptionalOpsAccessDep) -> Health:
    try:
        await services.backend.store.ping()
    except Exception as exc:
        raise ApiProblem("not_ready", f"database not answering: {type(exc).__name__}") from exc
    tenants = len(services.keyring.tenants) if ops_access else None
    return Health(status="ready", database=services.backend.kind, tenants=tenants)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        401: {"description": "an API key is needed (`ops_require_key`)"},
    },
)
async def metrics(request: Request, ops_access: OpsAccessDep) -> Response:
    if not ops_access:
        raise ApiProblem("unauthorized", "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
