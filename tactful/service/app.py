"""The app factory: wires settings, storage, the support graph, routes and error handling together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tactful.agents.context import TurnContext
from tactful.errors import ConfigError, ConversationBusyError, InputError, TactfulError, WorkerBusyError
from tactful.graphs.context import EngineFactory, build_context
from tactful.graphs.marketing_service import MarketingService
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.graphs.tracing import install_trace_masking
from tactful.service.auth import KeyRing
from tactful.service.backend import open_backend, open_limiter
from tactful.service.console import router as console_router
from tactful.service.deps import Services, ops_required
from tactful.service.errors import ConflictError, NotFoundError, PayloadTooLargeError
from tactful.service.limits import BodyLimitMiddleware
from tactful.service.masking import Masker
from tactful.service.metrics import HttpMetricsMiddleware, Metrics
from tactful.service.models import HandoffOut
from tactful.service.openapi import install_docs, install_openapi, operation_id
from tactful.service.operations import Operations
from tactful.service.outbox import HandoffOutbox
from tactful.service.outcomes import routes as outcome_routes
from tactful.service.outcomes.dashboard import router as dashboard_router
from tactful.service.outcomes.gauges import OutcomeGauges
from tactful.service.outcomes.service import open_outcomes
from tactful.service.problems import ApiProblem, code_for_status, problem
from tactful.service.routes import conversations, events, handoffs, health, marketing
from tactful.service.turns import TurnService
from tactful.service.webhooks import WebhookAlertSink, WebhookSender, install_default_sender
from tactful.settings import Settings, get_settings

log = logging.getLogger("tactful.service")


def _version() -> str:
    try:
        return metadata.version("tactful")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def install_error_handlers(app: FastAPI, settings: Settings) -> None:
    """Every error becomes an ``application/problem+json`` answer with its stable ``code``; nothing leaks a
    traceback."""

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())) or "body",
                "message": str(e.get("msg", "invalid")),
                "type": str(e.get("type", "invalid")),
            }
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(
                "invalid_json",
                "body: not valid JSON (UTF-8)",
                errors=[{"field": "body", "message": "not valid JSON (UTF-8)", "type": "json_invalid"}],
            )
        shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return problem("invalid_request", shown + more or "invalid request", errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return problem(
                "invalid_json",
                "body: not valid JSON (UTF-8)",
                errors=[{"field": "body", "message": "not valid JSON (UTF-8)", "type": "json_invalid"}],
            )
        code = exc.code if isinstance(exc, ApiProblem) else code_for_status(exc.status_code)
        return problem(code, str(exc.detail), status=exc.status_code, headers=dict(exc.headers or {}))

    async def tactful_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, NotFoundError):
            return problem(exc.code, str(exc))
        if isinstance(exc, WorkerBusyError):
            return problem("at_capacity", f"{exc}; try again shortly", headers={"Retry-After": "5"})
        if isinstance(exc, ConversationBusyError):
            return problem(
                "conversation_busy",
                f"{exc}; another message of this conversation is still being answered",
                headers={"Retry-After": "1"},
            )
        if isinstance(exc, ConflictError):
            return problem(exc.code, str(exc))
        if isinstance(exc, PayloadTooLargeError):
            return problem("text_too_long", str(exc))
        if isinstance(exc, InputError):
            return problem("invalid_input", str(exc))
        log.error("unhandled %s: %s", type(exc).__name__, exc)
        return problem("internal_error", "internal error")

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem("internal_error", "internal error")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(TactfulError, tactful_error)
    app.add_exception_handler(Exception, unexpected)


def create_app(
    settings: Settings | None = None,
    *,
    engine_factory: EngineFactory | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The HTTP service for ``settings`` (default: from the environment). Invalid keys fail here; invalid
    policy files and an unreachable database fail at start-up (lifespan)."""
    settings = settings or get_settings()
    install_trace_masking(settings)  # LangSmith traces (when on) masked like the packet
    keyring = KeyRing.from_settings(settings)
    if settings.ops_require_key and keyring.single_tenant:
        raise ConfigError("TACTFUL_OPS_REQUIRE_KEY is on but no API key is configured (TACTFUL_API_KEYS)")
    metrics = Metrics()
    outcome_gauges = OutcomeGauges(metrics.registry)
    masker = Masker(
        emails=settings.mask_emails, phones=settings.mask_phones, phone_regions=settings.mask_phone_regions
    )

    def context_for(tenant: str) -> TurnContext:
        return build_context(settings, tenant=tenant, engine_factory=engine_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for tenant in keyring.tenants:
            context_for(tenant)  # fit intent models, validate per-tenant files now, not at the first request
        if keyring.single_tenant:
            log.warning(
                "no API keys configured: single-tenant mode (tenant %r); serve on 127.0.0.1 only",
                keyring.default_tenant,
            )
        async with open_backend(settings) as backend, open_limiter(settings, backend) as limiter:
            runner = SupportRunner(compile_support_graph(backend.checkpointer, store=backend.archive), context_for)
            webhooks = WebhookSender.from_settings(
                settings, masker=masker, transport=webhook_transport, on_outcome=metrics.webhook_outcome
            )
            store = backend.store
            outcomes = await open_outcomes(settings, store, context_for, masker, outcome_gauges, keyring.tenants)

            outbox = HandoffOutbox(store, webhooks, sweep_s=settings.webhook_sweep_s) if webhooks else None

            def on_handoff(tenant: str, handoff: HandoffOut) -> None:
                if outbox is not None:
                    outbox.send(tenant, handoff)

            turns = TurnService(
                runner=runner,
                store=store,
                locks=backend.locks,
                masker=masker,
                metrics=metrics,
                max_message_chars=settings.max_message_chars,
                on_handoff=on_handoff if webhooks else None,
                on_recorded=outcomes.on_turn,
            )
            ops = Operations(
                turns=turns,
                runner=runner,
                store=store,
                masker=masker,
                max_message_chars=settings.max_message_chars,
            )
            marketing_service = MarketingService(
                settings,
                alert_sink=WebhookAlertSink(webhooks) if webhooks else None,
                engine_factory=engine_factory,
            )
            for tenant in keyring.tenants:
                marketing_service.context_for(tenant)
            install_default_sender(webhooks)
            app.state.services = Services(
                settings=settings,
                keyring=keyring,
                limiter=limiter,
                metrics=metrics,
                masker=masker,
                backend=backend,
                turns=turns,
                ops=ops,
                webhooks=webhooks,
                marketing=marketing_service,
                outcomes=outcomes,
            )
            if outbox is not None:
                outbox.start()  # re-sends handoff webhooks a dead worker left pending
            log.info("tactful service ready: %s storage, %d tenant(s)", backend.kind, len(keyring.tenants))
            try:
                yield
            finally:
                app.state.services = None
                if outbox is not None:
                    await outbox.aclose()
                await turns.aclose()
                if webhooks is not None:
                    install_default_sender(None)
                    await webhooks.aclose()

    app = FastAPI(
        title="tactful",
        version=_version(),
        summary="Empathetic support automation: turns, conversations, events and the handoff queue.",
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = metrics
    app.state.keyring = keyring
    app.state.ops_require_key = ops_required(settings, keyring)
    app.state.services = None
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    install_error_handlers(app, settings)
    for module in (conversations, events, handoffs, health, marketing):
        app.include_router(module.router)
    app.include_router(outcome_routes.router)
    app.include_router(console_router)
    app.include_router(dashboard_router)
    install_openapi(app)
    install_docs(app)
    return app
