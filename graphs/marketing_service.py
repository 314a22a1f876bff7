"""The marketing message generator as a service object: ``await MarketingService(settings).decide(request)``.

Mounted by the HTTP service at ``POST /v1/marketing/messages`` and driven by ``tactful marketing batch``.
Contexts (policy, templates, reasoner) are built once per tenant; the default tenant's is built in the
constructor, so an invalid policy or template file fails at start-up with its file and line. The copy is written
by the tenant's engine — the same engine (and the same cached context) the support graph uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tactful.agents.marketing.alerts import AlertSink, InMemoryAlertSink, LoggingAlertSink
from tactful.agents.marketing.context import MarketingContext, build_marketing_context, check_tenant
from tactful.agents.marketing.models import MarketingDecision, MarketingRequest
from tactful.graphs.context import EngineFactory, build_context
from tactful.graphs.marketing import run_direct, run_graph
from tactful.settings import Settings

__all__ = [
    "AlertSink",
    "InMemoryAlertSink",
    "LoggingAlertSink",
    "MarketingDecision",
    "MarketingRequest",
    "MarketingService",
]


class MarketingService:
    """Decides send / suppress / route_to_rep for one person × campaign."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy_dir: Path | None = None,
        alert_sink: AlertSink | None = None,
        engine_factory: EngineFactory | None = None,
        via_graph: bool = False,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """``policy_dir`` overrides ``settings.policy_dir`` (tenants' files in ``policy_dir/tenants/<t>/``);
        ``alert_sink`` receives concierge alerts (default: a log line); ``engine_factory`` builds the engine
        that writes the copy, as for the support graph (default: the one ``settings.engine`` names);
        ``via_graph`` runs every decision through the compiled LangGraph graph instead of the in-process walk of
        the same nodes."""
        self.settings = settings
        self.policy_dir = Path(policy_dir or settings.policy_dir)
        self.alert_sink: AlertSink = alert_sink or LoggingAlertSink()
        self.engine_factory = engine_factory
        self.via_graph = via_graph
        self.now = now
        self._contexts: dict[str, MarketingContext] = {}
        self._lock = threading.Lock()
        self.context_for(settings.tenant)

    def context_for(self, tenant: str) -> MarketingContext:
        check_tenant(tenant)
        with self._lock:
            ctx = self._contexts.get(tenant)
        if ctx is None:
            support = build_context(self.settings, tenant=tenant, engine_factory=self.engine_factory)
            ctx = build_marketing_context(
                self.settings,
                tenant=tenant,
                policy_dir=self.policy_dir,
                engine=support.engine,
                offline=support.offline,
                alert_sink=self.alert_sink,
                now=self.now,
            )
            with self._lock:
                ctx = self._contexts.setdefault(tenant, ctx)
        return ctx

    async def decide(self, request: MarketingRequest, *, tenant: str = "default") -> MarketingDecision:
        """The decision for ``request``: action, reason code, factors; the message, rep packet or alert."""
        ctx = self.context_for(tenant)
        if self.via_graph:
            return await run_graph(request, ctx)
        return await run_direct(request, ctx)
