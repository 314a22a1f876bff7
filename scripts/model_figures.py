"""Figures of the model engine on eval scenarios against a real server (docs/model-engine.md, "Measured").

    env $(python scripts/local_llm.py env) python scripts/model_figures.py evals/scenarios/support/people [--json]

Runs the scenarios like ``tactful eval`` (same runner, scorer and gates) with the engine the environment selects,
and reports per support turn: model calls, latency, structured-output validity (answers that validated / asked,
by ``structured_output`` mode), fallbacks by cause (analysis and reply calls the offline engine had to answer, and
model sentences the grounding guard replaced), and how many bot replies carry the path to a person. It measures
by wrapping the engine's client methods in this process; nothing in the product changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from tactful.agents.engine import client as client_module
from tactful.errors import EngineError, InvalidModelOutputError, StreamCutError
from tactful.evals.detectors import Detectors
from tactful.evals.gates import DEFAULT_GATES, evaluate, load_gates
from tactful.evals.metrics import compute
from tactful.evals.records import TurnRecord
from tactful.evals.runner import EvalRunner
from tactful.evals.scenario import load_all
from tactful.evals.scoring import Scorer
from tactful.settings import Settings

structured = Counter[str]()  # asked / valid / reasks
fallbacks = Counter[str]()


def _cause(exc: BaseException) -> str:
    if isinstance(exc, InvalidModelOutputError):
        return "invalid_output"
    if isinstance(exc, StreamCutError):
        return f"stream_{exc.reason}"
    text = str(exc)
    for key, name in (("deadline", "deadline"), ("used up", "request_budget"), ("circuit", "circuit_open"),
                      ("HTTP", "http_error"), ("Timeout", "timeout")):  # fmt: skip
        if key in text:
            return name
    return type(exc).__name__


def _instrument() -> None:
    cls = client_module.ModelClient
    plain_structured, plain_stream = cls.structured, cls.stream

    async def measured_structured(self: Any, **kwargs: Any) -> Any:
        before = kwargs["meter"].model_calls
        try:
            result = await plain_structured(self, **kwargs)
        except EngineError as exc:
            fallbacks[f"analysis:{_cause(exc)}"] += 1
            raise
        finally:
            sent = kwargs["meter"].model_calls - before
            structured["requests"] += sent
        structured["valid"] += 1
        return result

    async def measured_stream(self: Any, **kwargs: Any) -> AsyncGenerator[str, None]:
        try:
            async for piece in plain_stream(self, **kwargs):
                yield piece
        except EngineError as exc:
            fallbacks[f"reply:{_cause(exc)}"] += 1
            raise

    cls.structured = measured_structured  # type: ignore[method-assign]
    cls.stream = measured_stream  # type: ignore[method-assign]


class TimedRunner(EvalRunner):
    """The eval runner, timing each support turn."""

    latencies: list[tuple[float, TurnRecord]]

    async def _turn(self, scenario: Any, **kwargs: Any) -> TurnRecord:
        started = time.perf_counter()
        record = await super()._turn(scenario, **kwargs)
        self.latencies.append((time.perf_counter() - started, record))
        return record


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(ordered), 2),
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
        "max": round(ordered[-1], 2),
    }


def _analyses(settings: Settings, loaded: list[Any], *, n: int, as_json: bool) -> int:
    from tactful.agents.engine.seam import IntentRequest
    from tactful.graphs.context import build_context

    texts = [t.user for item in loaded for t in getattr(item.scenario, "turns", []) if t.user][:n]
    ctx = build_context(settings.model_copy(update={"offline_confidence_skip": 1.01}))
    latencies: list[float] = []

    async def run() -> None:
        for i, text in enumerate(texts):
            started = time.perf_counter()
            await ctx.engine.classify(IntentRequest(turn_key=f"figures:{i}", text=text))
            latencies.append(time.perf_counter() - started)

    asyncio.run(run())
    asked = structured["valid"] + sum(v for k, v in fallbacks.items() if k.startswith("analysis:"))
    figures = {
        "structured_output": settings.structured_output,
        "tool_choice": settings.tool_choice,
        "messages": len(texts),
        "valid": structured["valid"],
        "validity": round(structured["valid"] / max(1, asked), 3),
        "requests_per_analysis": round(structured["requests"] / max(1, asked), 3),
        "latency_s": _quantiles(latencies),
        "fallbacks": dict(sorted(fallbacks.items())),
    }
    print(json.dumps(figures) if as_json else "\n".join(f"{k}: {v}" for k, v in figures.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    parser.add_argument(
        "--analyses", type=int, default=0, metavar="N",
        help="only the analysis call, for the first N customer messages of the scenarios (validity per mode)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    settings = Settings()
    _instrument()
    loaded, errors = load_all(args.paths)
    if args.analyses:
        return _analyses(settings, loaded, n=args.analyses, as_json=args.json)
    runner = TimedRunner(settings)
    runner.latencies = []
    runner.prepare(loaded)
    started = time.perf_counter()
    runs = asyncio.run(runner.run_many(loaded))
    duration = time.perf_counter() - started
    scorer = Scorer(Detectors.load())
    by_id = {item.scenario.id: item.scenario for item in loaded}
    scores = [scorer.score(by_id[r.id], r) for r in runs]
    gates = evaluate(load_gates(DEFAULT_GATES), compute(scores, unreadable_files=len(errors)))

    templates = runner.context_for("default").templates
    footers = {templates.footer_human.pick(tone) for tone in ("standard", "brief", "steady")}
    turns = [record for _, record in runner.latencies]
    with_model = [(s, r) for s, r in runner.latencies if r.result.usage["model_calls"] > 0]
    answered = [r for r in turns if r.result.reply and r.result.action in {"respond", "assist"}]
    for r in turns:
        for g in r.result.guards:
            if g["effect"] == "fallback":
                fallbacks[f"grounding:{g['reason']}"] += 1
    figures = {
        "engine": settings.engine,
        "model": settings.model,
        "structured_output": settings.structured_output,
        "scenarios": len(runs),
        "passed": sum(s.status == "pass" for s in scores),
        "failed": {s.id: s.note or [f"{c.name}@{c.turn}: {c.actual}" for c in s.failures]
                   for s in scores if s.status != "pass"},
        "gates_failed": [g.metric for g in gates if not g.ok],
        "duration_s": round(duration, 1),
        "support_turns": len(turns),
        "model_calls_per_turn": round(sum(r.result.usage["model_calls"] for r in turns) / max(1, len(turns)), 3),
        "model_calls_per_turn_max": max((r.result.usage["model_calls"] for r in turns), default=0),
        "turns_with_model_calls": len(with_model),
        "latency_s_turns_with_model_calls": _quantiles([s for s, _ in with_model]),
        "structured": {
            "asked": structured["valid"] + sum(v for k, v in fallbacks.items() if k.startswith("analysis:")),
            "valid": structured["valid"],
            "requests": structured["requests"],
        },
        "fallbacks": dict(sorted(fallbacks.items())),
        "degraded_turns": sum(r.result.degraded for r in turns),
        "replies_respond_or_assist": len(answered),
        "replies_with_path_to_a_person": sum(any(f in (r.result.reply or "") for f in footers) for r in answered),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
