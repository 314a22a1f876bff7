"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tactful.service.deps import ServicesDep
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
async def readyz(services: ServicesDep) -> Health:
    try:
        await services.backend.store.ping()
    except Exception as exc:
        raise ApiProblem("not_ready", f"database not answering: {type(exc).__name__}") from exc
    return Health(status="ready", database=services.backend.kind, tenants=len(services.keyring.tenants))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
