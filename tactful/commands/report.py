"""``tactful report``: the live metrics of one tenant, read from the configured store, written as one
self-contained HTML file (charts as inline SVG, nothing fetched) and, with ``--json``, as the summary JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tactful.agents.context import TENANT_NAME
from tactful.errors import InputError
from tactful.service.outcomes.models import MetricsSummary
from tactful.service.outcomes.report import render_html
from tactful.service.outcomes.service import compute_summary, open_outcome_store
from tactful.settings import load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("report", help="write the live metrics of a tenant as a self-contained HTML report")
    p.add_argument("--tenant", default="default", help="tenant (default: default)")
    p.add_argument("--days", type=float, default=30, help="window length in days, ending --until (default 30)")
    p.add_argument("--until", default=None, help="end of the window, ISO-8601 (default: now)")
    p.add_argument("--out", type=Path, default=Path("outcomes-report.html"), help="HTML file to write")
    p.add_argument("--json", type=Path, default=None, help="also write the summary JSON here")
    p.set_defaults(func=run)


def parse_until(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--until {text!r}: not an ISO-8601 time") from exc
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not 1970 <= value.year <= 9000:
        raise InputError(f"--until {text!r}: a year from 1970 to 9000")
    return value


def check_window(tenant: str, days: float) -> None:
    if not TENANT_NAME.match(tenant):
        raise InputError(f"--tenant {tenant!r}: letters, digits, '_' and '-' only (1-64)")
    if not 0 < days <= 366:
        raise InputError("--days: more than 0, at most 366")


async def summary_of(tenant: str, *, days: float, until: datetime) -> MetricsSummary:
    async with open_outcome_store(load_settings()) as (_, store):
        return await compute_summary(store, tenant, since=until - timedelta(days=days), until=until)


def run(args: argparse.Namespace) -> int:
    check_window(args.tenant, args.days)
    summary = asyncio.run(summary_of(args.tenant, days=args.days, until=parse_until(args.until)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_html(summary), encoding="utf-8")
    if args.json:
        args.json.write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    t = summary.totals
    print(
        json.dumps(
            {
                "report": str(args.out),
                "tenant": summary.tenant,
                "conversations": t.conversations,
                "containment_without_regret": t.containment_without_regret,
                "escalation_rate": t.escalation_rate,
                "escalation_precision": t.escalation_precision,
            }
        )
    )
    return 0
