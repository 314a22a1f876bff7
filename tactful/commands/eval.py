"""``tactful eval [PATH ...] --report DIR``: replay scenario files against the graphs, score them, gate the
result.

Writes ``DIR/report.json`` and ``DIR/report.html``; exits 1 when a gate is missed, 2 on a usage or
configuration error. Malformed scenario files are reported (file and line) and skipped; the rest still run.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tactful.errors import InputError
from tactful.evals.detectors import Detectors
from tactful.evals.gates import DEFAULT_GATES, evaluate, load_gates
from tactful.evals.metrics import compute
from tactful.evals.records import ScenarioRun
from tactful.evals.report import RunInfo, build_report, write_report
from tactful.evals.runner import EvalRunner, UserSimulator, run_scenarios
from tactful.evals.scenario import load_all
from tactful.evals.scoring import Scorer
from tactful.graphs.tracing import install_trace_masking
from tactful.resources import EVALS_DIR
from tactful.settings import Settings, load_settings

DEFAULT_SCENARIOS = EVALS_DIR / "scenarios"


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when under it (the same on every checkout)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _cpu_seconds() -> float:
    """CPU time used by this process and its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from exc
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("eval", help="replay scenario files against the graphs and gate the metrics")
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help=f"scenario files or directories (default: the shipped suite, {DEFAULT_SCENARIOS})",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=Path("reports/eval"),
        metavar="DIR",
        help="where report.json and report.html go (default: reports/eval)",
    )
    p.add_argument("--engine", choices=["offline", "scripted", "openai"], default="offline")
    p.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="N",
        help="parallel workers: processes on offline/scripted, concurrent conversations on openai",
    )
    p.add_argument("--gates", type=Path, default=DEFAULT_GATES, metavar="FILE", help="gate thresholds (YAML)")
    p.add_argument(
        "--simulate",
        action="store_true",
        help="a model plays the user of scenarios with a `simulate` block (needs --engine openai)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _simulator(args: argparse.Namespace, settings: Settings) -> UserSimulator | None:
    if not args.simulate:
        return None
    if args.engine != "openai":
        raise InputError("--simulate needs a model engine: add --engine openai")
    from tactful.evals.simulate import OpenAIUserSimulator

    return OpenAIUserSimulator(settings)


def _print_summary(console: Console, report: dict[str, Any], json_path: Path, html_path: Path) -> None:
    m, run = report["metrics"], report["run"]
    console.print(
        f"[bold]{m['scenarios']}[/] scenarios: [green]{m['passed']} passed[/], [red]{m['failed']} failed[/], "
        f"{m['errors']} errors, {m['skipped']} skipped; {m['unreadable_files']} unreadable files "
        f"({run['scenarios_per_s']:.1f} scenarios/s, {run['scenarios_per_cpu_s']:.1f} per CPU-second)"
    )
    for g in report["gates"]:
        bound = " ".join(f"{sym}{g[k]}" for k, sym in (("min", ">="), ("max", "<=")) if g[k] is not None)
        mark = "[green]ok  [/]" if g["ok"] else "[red]FAIL[/]"
        value = g["value"]
        shown = "–" if value is None else (f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}")
        console.print(f"  {mark} {g['metric']} = {shown} (gate {bound})")
    if report["failed"]:
        console.print(f"failed scenarios: {', '.join(report['failed'])}")
    console.print(f"report: {json_path} and {html_path}")


def run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    out = Console()
    gates = load_gates(args.gates)
    paths: list[Path] = args.paths or [_relative(DEFAULT_SCENARIOS)]
    for path in paths:
        if not path.exists():
            raise InputError(f"no such scenario file or directory: {path}")
    loaded, errors = load_all(paths)
    for e in errors:
        err.print(f"[red]scenario error[/] {e}", markup=True, highlight=False)
    if not loaded and not errors:
        raise InputError(f"no scenario files (*.yaml) under {', '.join(map(str, paths))}")

    settings = load_settings(engine=args.engine)
    install_trace_masking(settings)
    try:
        runner = EvalRunner(settings, simulator=_simulator(args, settings))
        runner.prepare(loaded)
    except ImportError as exc:
        raise InputError(f"engine {args.engine!r} is not available: {exc}") from exc
    loaded, misnamed = runner.check_names(loaded)
    for e in misnamed:
        err.print(f"[red]scenario error[/] {e}", markup=True, highlight=False)
    errors = [*errors, *misnamed]

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    runs: list[ScenarioRun]
    with Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=args.quiet or not loaded,
    ) as bar:
        task = bar.add_task("eval", total=len(loaded), last="")

        def tick(done: ScenarioRun) -> None:
            bar.update(task, advance=1, last=done.id)

        runs = run_scenarios(runner, loaded, jobs=args.jobs, progress=tick)
    duration, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started

    scorer = Scorer(Detectors.load())
    by_id = {item.scenario.id: item.scenario for item in loaded}
    scores = [scorer.score(by_id[r.id], r) for r in runs]
    metrics = compute(scores, unreadable_files=len(errors))
    results = evaluate(gates, metrics)
    report = build_report(
        engine=args.engine,
        paths=[str(p) for p in paths],
        scores=scores,
        runs=runs,
        metrics=metrics,
        gates=results,
        load_errors=errors,
        run_info=RunInfo(
            duration_s=round(duration, 3),
            scenarios_per_s=round(len(runs) / duration, 2) if duration > 0 else 0.0,
            cpu_s=round(cpu, 3),
            scenarios_per_cpu_s=round(len(runs) / cpu, 2) if cpu > 0 else 0.0,
            jobs=args.jobs,
        ),
    )
    json_path, html_path = write_report(report, args.report)
    _print_summary(out, report, json_path, html_path)
    return 0 if report["passed"] else 1
