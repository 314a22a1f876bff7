"""Eval speed: scenarios per second of the eval suite (``evals/scenarios``) on the offline engine, through the same
runner ``tactful eval`` uses (``tactful.evals.runner.run_scenarios``), and a cProfile of one run: what dominates.

Timed like ``tactful eval`` times itself: the replay of the scenarios (contexts built and intent models fitted
beforehand), one process (``--jobs 1``, the default) — and, for comparison, ``--jobs`` = the number of CPUs.
Scoring (checks, metrics) is timed separately.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import time
from pathlib import Path

from tactful.bench import profile
from tactful.bench.common import JSON, Section, Target, progress, section
from tactful.bench.markdown import fmt, profile_lines, table
from tactful.resources import EVALS_DIR
from tactful.settings import Settings

TARGET_SCENARIOS_PER_S = 100.0
SCENARIOS = EVALS_DIR / "scenarios"


def bench(*, quick: bool, paths: list[Path] | None = None, repeats: int | None = None,
          with_profile: bool | None = None) -> JSON:
    from tactful.evals.detectors import Detectors
    from tactful.evals.metrics import compute
    from tactful.evals.runner import EvalRunner, run_scenarios
    from tactful.evals.scenario import load_all
    from tactful.evals.scoring import Scorer

    started = time.perf_counter()
    repeats = repeats or (1 if quick else 3)
    with_profile = (not quick) if with_profile is None else with_profile
    loaded, errors = load_all(paths if paths is not None else [SCENARIOS])
    runner = EvalRunner(Settings(engine="offline"))
    build_started = time.perf_counter()
    runner.prepare(loaded)
    loaded, misnamed = runner.check_names(loaded)
    build_s = time.perf_counter() - build_started
    n = len(loaded)
    progress(f"evalspeed: {n} scenarios, warm-up run")

    def timed(jobs: int) -> float:
        t0 = time.perf_counter()
        runs = run_scenarios(runner, loaded, jobs=jobs)
        elapsed = time.perf_counter() - t0
        assert len(runs) == n
        return elapsed

    first_s = timed(1)
    one = [timed(1) for _ in range(repeats)]
    progress(f"evalspeed: {repeats} timed run(s) at --jobs 1: {n / statistics.median(one):.1f} scenarios/s")
    data: JSON = {
        "engine": "offline",
        "scenarios": n,
        "unreadable_or_misnamed": len(errors) + len(misnamed),
        "context_build_s": round(build_s, 3),
        "first_run_s": round(first_s, 3),
        "jobs_1": {"runs_s": [round(x, 3) for x in one], "scenarios_per_s": round(n / statistics.median(one), 1)},
    }
    cpus = os.cpu_count() or 1
    if cpus > 1 and not quick:
        many = [timed(cpus) for _ in range(max(1, repeats - 1))]
        data[f"jobs_{cpus}"] = {"runs_s": [round(x, 3) for x in many],
                                "scenarios_per_s": round(n / statistics.median(many), 1)}
        progress(f"evalspeed: --jobs {cpus}: {n / statistics.median(many):.1f} scenarios/s")
    # scoring, for the full picture of a `tactful eval` run (not part of the rate, as in the CLI)
    runs = run_scenarios(runner, loaded, jobs=1)
    t0 = time.perf_counter()
    scorer = Scorer(Detectors.load())
    by_id = {item.scenario.id: item.scenario for item in loaded}
    scores = [scorer.score(by_id[r.id], r) for r in runs]
    compute(scores)
    data["scoring_s"] = round(time.perf_counter() - t0, 3)
    turns = sum(len(r.turns) for r in runs)
    data["support_turns"] = turns
    data["ms_per_support_turn"] = round(statistics.median(one) / max(1, turns) * 1000, 2)
    if with_profile:
        progress("evalspeed: one more run under cProfile")
        prof = cProfile.Profile()
        prof.enable()
        run_scenarios(runner, loaded, jobs=1)
        prof.disable()
        data["profile"] = {"tool": "cProfile (one --jobs 1 run)",
                           **profile.cprofile_summary(pstats.Stats(prof))}
    targets = [Target("scenarios_per_s", data["jobs_1"]["scenarios_per_s"], TARGET_SCENARIOS_PER_S, "min",
                      unit="/s", note="--jobs 1 (the default of tactful eval)")]
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    rows = [[k.replace("jobs_", "--jobs "), v["scenarios_per_s"], ", ".join(f"{x:g}" for x in v["runs_s"])]
            for k, v in sec.items() if k.startswith("jobs_")]
    lines = [f"{sec['scenarios']} scenarios ({sec['support_turns']} support turns, "
             f"{fmt(sec['ms_per_support_turn'])} ms per turn); scoring {fmt(sec['scoring_s'])} s.", ""]
    lines += table(["run", "scenarios/s", "runs (s)"], rows)
    if "profile" in sec:
        lines += ["cProfile of one `--jobs 1` run (own time):", ""]
        lines += profile_lines(sec["profile"], key_self="own_by_function", key_pkg="own_by_package")
    return lines


SECTION = Section(
    name="evalspeed",
    title="Eval speed",
    summary="eval scenarios per second on the offline engine",
    run=lambda args: bench(quick=args.quick, with_profile=False if args.no_profile else None),
    render=render,
)
