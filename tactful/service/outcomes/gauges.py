"""Prometheus figures for outcomes: counters as labels and ratings arrive, and gauges holding the tenant's
latest whole-tenant summary (set each time ``/v1/metrics/summary`` or the dashboard computes one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from tactful.service.outcomes.models import Figures

GAUGES = {
    "containment_without_regret": "Share of conversations the bot closed with no new contact within 72 h",
    "escalation_rate": "Share of conversations handed to a person",
    "escalation_precision": "Share of labelled handoffs the people said were needed",
    "handoff_completeness": "Mean completeness of handoff packets",
    "first_reply_s_median": "Median seconds from handoff to the first human reply",
    "resolution_s_median": "Median seconds from handoff to resolution",
    "negative_recovery": "Mean recovery from the worst frustration of conversations that turned negative",
    "rating_mean": "Mean customer rating (1-5)",
}


class OutcomeGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.feedback = Counter("tactful_handoff_feedback", "People's labels on handoffs", ["label"], registry=registry)
        self.ratings = Counter("tactful_customer_ratings", "Customer ratings", ["score"], registry=registry)
        self.gauges = {
            name: Gauge(f"tactful_outcome_{name}", text, ["tenant"], registry=registry, multiprocess_mode="mostrecent")
            for name, text in GAUGES.items()
        }

    def publish(self, tenant: str, figures: Figures) -> None:
        for name, gauge in self.gauges.items():
            value = getattr(figures, name)
            if value is not None:
                gauge.labels(tenant=tenant).set(float(value))
