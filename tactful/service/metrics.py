"""Prometheus metrics: turns, actions, escalations by reason, guard trips, model calls, latencies.

Each app owns a registry. With several workers set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode) and ``/metrics`` aggregates every worker.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tactful.graphs.runner import TurnResult

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.turns = Counter("tactful_turns", "Support turns run", ["tenant", "mode"], registry=r)
        self.actions = Counter("tactful_actions", "Turn actions", ["action"], registry=r)
        self.escalations = Counter(
            "tactful_escalations", "Handoffs to a human, by reason", ["reason"], registry=r
        )
        self.guard_trips = Counter(
            "tactful_guard_trips", "Guards that tripped", ["guard", "stage"], registry=r
        )
        self.model_calls = Counter("tactful_model_calls", "Model calls made by turns", registry=r)
        self.degraded = Counter(
            "tactful_degraded_turns", "Turns answered by the offline fallback", registry=r
        )
        self.replays = Counter(
            "tactful_idempotent_replays", "Retried messages answered from the store", registry=r
        )
        self.busy = Counter(
            "tactful_conversation_busy", "Messages refused after waiting for the lock", registry=r
        )
        self.overloaded = Counter(
            "tactful_worker_busy", "Messages refused with 503: no turn slot of the worker came free in time", registry=r
        )
        self.rate_limited = Counter("tactful_rate_limited", "Requests refused by the rate limit", registry=r)
        self.webhooks = Counter(
            "tactful_webhook_deliveries", "Webhook deliveries", ["kind", "outcome"], registry=r
        )
        self.turn_latency = Histogram(
            "tactful_turn_latency_seconds",
            "Time to run one turn (lock held)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lock_wait = Histogram(
            "tactful_lock_wait_seconds",
            "Time a message waited for its conversation",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_latency = Histogram(
            "tactful_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def observe_turn(self, tenant: str, result: TurnResult, seconds: float) -> None:
        self.turns.labels(tenant=tenant, mode=result.mode).inc()
        self.actions.labels(action=result.action).inc()
        if result.action == "escalate" and result.handoff:
            self.escalations.labels(reason=result.handoff["reason"]).inc()
        for verdict in result.guards:
            if verdict["tripped"]:
                self.guard_trips.labels(guard=verdict["guard"], stage=verdict["stage"]).inc()
        if result.usage["model_calls"]:
            self.model_calls.inc(result.usage["model_calls"])
        if result.degraded:
            self.degraded.inc()
        self.turn_latency.observe(seconds)

    def webhook_outcome(self, kind: str, ok: bool) -> None:
        self.webhooks.labels(kind=kind, outcome="delivered" if ok else "failed").inc()

    def render(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class HttpMetricsMiddleware:
    """Times every HTTP request, labelled by route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_latency.labels(
                method=scope.get("method", ""), route=template, status=str(status)
            ).observe(time.perf_counter() - started)
