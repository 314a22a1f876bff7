"""``tactful tune``: propose support-policy thresholds from outcomes. Reads the stored turns and the people's
labels of a window, replays the turns under candidate thresholds and prints, as JSON, each candidate's
escalation volume, precision and recall (fit and held-out shares), the proposal's YAML diff and the
conversations whose route it changes. It never applies anything: ``--write`` saves the proposed file elsewhere
for review; applying it is copying it over the tenant's ``support.yaml`` (its ``version`` is already bumped)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, timedelta
from pathlib import Path

from tactful.commands.report import check_window, parse_until
from tactful.errors import InputError
from tactful.graphs.context import build_context
from tactful.service.outcomes.service import open_outcome_store
from tactful.service.outcomes.summary import REGRET_H
from tactful.service.outcomes.tune import Proposal, proposed_text, tune
from tactful.settings import load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("tune", help="propose policy thresholds from outcomes (replays stored turns)")
    p.add_argument("--tenant", default="default", help="tenant (default: default)")
    p.add_argument("--days", type=float, default=30, help="window length in days (default 30)")
    p.add_argument("--until", default=None, help="end of the window, ISO-8601 (default: now)")
    p.add_argument("--holdout", type=float, default=0.3, help="share of conversations held out (default 0.3)")
    p.add_argument("--min-labels", type=int, default=20, help="labelled conversations needed to propose (20)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON here instead of stdout")
    p.add_argument("--write", type=Path, default=None, help="write the proposed support.yaml here (not applied)")
    p.set_defaults(func=run)


async def proposal_for(
    tenant: str, *, days: float, until_text: str | None, holdout: float, min_labels: int
) -> Proposal:
    settings = load_settings()
    live = build_context(settings, tenant=tenant).bundle
    until = parse_until(until_text).astimezone(UTC)
    since = until - timedelta(days=days)
    async with open_outcome_store(settings) as (_, store):
        window = await store.window(
            tenant,
            since=since.isoformat(),
            until=until.isoformat(),
            regret_until=(until + timedelta(hours=REGRET_H)).isoformat(),
        )
    return await asyncio.to_thread(tune, live, window, tenant=tenant, holdout_share=holdout, min_labels=min_labels)


def run(args: argparse.Namespace) -> int:
    check_window(args.tenant, args.days)
    if not 0 <= args.holdout < 1:
        raise InputError("--holdout: from 0 up to (not including) 1")
    proposal = asyncio.run(
        proposal_for(
            args.tenant, days=args.days, until_text=args.until, holdout=args.holdout, min_labels=args.min_labels
        )
    )
    if args.write is not None:
        live_file = Path(proposal.policy_file).resolve()
        if args.write.resolve() == live_file:
            raise InputError(f"--write {args.write}: that is the live policy file; tune never applies a change")
        if not proposal.changes:
            raise InputError(f"no proposal to write: {proposal.note}")
        from tactful.agents.policy.files import SupportPolicy
        from tactful.config import load_yaml_model

        live_policy = load_yaml_model(live_file, SupportPolicy)
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(
            proposed_text(live_file.read_text(encoding="utf-8"), live_policy, proposal.changes), encoding="utf-8"
        )
    text = proposal.model_dump_json(indent=2)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(proposal.diff or proposal.note, file=sys.stderr)
    else:
        print(text)
    return 0
