"""Model economy: how many model calls and prompt tokens a turn costs on the ``openai`` engine, measured against the
local fake OpenAI-compatible server (``tactful.bench.fake_openai``: real HTTP and SSE on 127.0.0.1).

- a 30-turn conversation through the real support graph and the real ``openai`` client: model calls and prompt
  tokens per turn, and the prompt tokens of turn 30 against turn 5 (target ≤ 1.5×); beside them, the same turns
  priced as "one call per specialist" (an intent call, a sentiment call and a reply call every turn, each carrying
  the whole conversation under the system text the fake saw for its kind, plus a summary call at a handoff);
- every support eval scenario (``evals/scenarios/support``) through the eval runner: mean model calls per turn
  (target ≤ 1.2).

The fake answers an analysis request with the label the offline classifier would pick (a model that agrees with
it), a reply request with a stream, a summary request with a short note; prompt tokens are counted from each
actual request with the engine's own tokenizer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import SecretStr

from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import IntentRequest
from tactful.agents.engine.tokens import ChatTurn, count_chat, count_tokens
from tactful.bench.arguments import positive_int
from tactful.bench.common import JSON, Section, Target, progress, section
from tactful.bench.fake_openai import FakeModelConfig, FakeOpenAIServer
from tactful.bench.markdown import fmt, table
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.resources import EVALS_DIR
from tactful.settings import Settings

TARGET_CALLS_PER_TURN = 1.2
TARGET_GROWTH_30_OVER_5 = 1.5
SCENARIOS = EVALS_DIR / "scenarios" / "support"
MARKS = (1, 5, 10, 15, 20, 25, 30)
# a reply of realistic length (~70 tokens): the bot's replies are part of the history later prompts carry
REPLY = (
    "I can see why that is getting in the way. Here is what usually fixes it: open Settings, choose the "
    "section for this, and follow the steps there; it takes a minute. If that does not do it, reply here and "
    "I will bring in a person from our team, or tell me if I got the topic wrong."
)

# A long, mostly happy conversation: many topics, each answered, so the bot keeps the conversation (no handoff).
# Each line carries the intent of its request, which the fake model answers when asked (a model that understands
# the conversation): the benchmark is about what the turns cost, not about the offline classifier's guesses.
LONG_SCRIPT: list[tuple[str, str]] = [
    ("hi, I forgot my password and can't log in", "password_reset"),
    ("ok thanks, that worked. where is my order? it was due yesterday", "order_status"),
    ("thanks. can I change the delivery address on that order?", "order_change"),
    ("great. how do I update the card on file?", "update_payment"),
    ("thanks, done. the dashboard export button does nothing", "technical_issue"),
    ("ok that fixed it, thanks. where do I find my invoices?", "invoices"),
    ("how do I set up sso with okta for my team?", "sso_confusion"),
    ("got it. my authenticator app got reset, how do I get codes now?", "mfa_failure"),
    ("thanks that worked. can I add a second item to my order before it ships?", "order_change"),
    ("thanks. what's the status of order 4471?", "order_status"),
    ("perfect. the app crashes when I open reports on my phone", "technical_issue"),
    ("ok, updating fixed it. how do I change my billing email?", "invoices"),
    ("thanks! can I change the delivery date of my order?", "order_change"),
    ("great. can I reset my password from the mobile app?", "password_reset"),
    ("thanks. my order says delivered but I don't see it", "order_status"),
    ("found it with the neighbour, thanks. how do I change the shipping speed?", "order_change"),
    ("thanks. the api returns 500 errors since this morning", "technical_issue"),
    ("ok it works now. how do I update my company address on invoices?", "invoices"),
    ("cool. can I pay with a different card this month?", "update_payment"),
    ("thanks. how do I turn on two-factor for my account?", "mfa_failure"),
    ("done, thanks. the page keeps loading forever when I upload a file", "technical_issue"),
    ("that worked. where can I track my replacement order?", "order_status"),
    ("thanks. can I change the size on my order?", "order_change"),
    ("great. how do I sign in with google workspace?", "sso_confusion"),
    ("thanks. the csv import fails with an encoding error", "technical_issue"),
    ("fixed, thanks. when will my order ship?", "order_status"),
    ("ok. how do I remove an old card?", "update_payment"),
    ("thanks. my password reset email never arrives", "password_reset"),
    ("got it now, thanks. the sync between devices stopped", "technical_issue"),
    ("that did it, thank you. can I get a copy of last month's invoice?", "invoices"),
]
LONG_CONVERSATION = [text for text, _ in LONG_SCRIPT]


def _analysis_answerer(ctx: TurnContext) -> Any:
    """A model that understands the scripted lines (their intent) and otherwise agrees with the offline
    classifier."""
    known = {text: intent for text, intent in LONG_SCRIPT}

    def answer(body: JSON) -> JSON:
        latest = str(body["messages"][-1]["content"]).rsplit("Latest message:\n", 1)[-1].strip()
        label = known.get(latest) or next((i for t, i in LONG_SCRIPT if t in latest), None)
        if label is None:
            guess = ctx.offline.classify_now(IntentRequest(turn_key="bench", text=latest))
            label = guess.runner_up if guess.label == "human_request" and guess.runner_up else guess.label
        return {"intent": label, "confidence": 0.9, "runner_up": None, "sentiment": "calm", "frustration": 0.1,
                "urgency": 0.2, "hurried": False}

    return answer


def model_settings(policy_dir: Path, base_url: str) -> Settings:
    return Settings(engine="openai", openai_base_url=base_url, openai_api_key=SecretStr("bench"),
                    policy_dir=policy_dir)


def _policy_copy(root: Path, name: str, *, turn_budget: int | None = None) -> Path:
    """A private copy of the policy files (also a fresh key in the context cache, so a copy never talks to a
    fake server of an earlier run)."""
    target = root / name
    shutil.copytree(Settings().policy_dir, target)
    if turn_budget is not None:
        support = target / "support.yaml"
        data = yaml.safe_load(support.read_text(encoding="utf-8"))
        data["thresholds"]["turn_budget"] = max(turn_budget, data["thresholds"].get("turn_budget", 24))
        support.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


async def _close_engine(ctx: TurnContext) -> None:
    """Close the engine's HTTP client on the loop that opened it (``asyncio.run`` is about to close the loop)."""
    close = getattr(ctx.engine, "aclose", None)
    if close is not None:
        await close()


async def long_conversation(ctx: TurnContext, config: FakeModelConfig, turns: int) -> list[JSON]:
    try:
        return await _long_conversation(ctx, config, turns)
    finally:
        await _close_engine(ctx)


async def _long_conversation(ctx: TurnContext, config: FakeModelConfig, turns: int) -> list[JSON]:
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    rows: list[JSON] = []
    lines = (LONG_CONVERSATION * (turns // len(LONG_CONVERSATION) + 1))[:turns]
    for n, line in enumerate(lines, start=1):
        before = len(config.requests)
        result = await runner.turn("bench-long", line)
        sent = config.requests[before:]
        rows.append({
            "turn": n,
            "user": line,
            "reply": result.reply,
            "action": result.action,
            "mode": result.mode,
            "model_calls": result.usage["model_calls"],
            "calls": [r["kind"] for r in sent],
            "prompt_tokens": result.usage["prompt_tokens"],
            "reply_prompt_tokens": sum(r["prompt_tokens"] for r in sent if r["kind"] == "reply"),
            "completion_tokens": result.usage["completion_tokens"],
            "degraded": result.degraded,
        })
        if result.mode == "human":
            break
    return rows


async def eval_scenarios(settings: Settings, paths: Sequence[Path], *, limit: int | None) -> JSON:
    from tactful.evals.runner import EvalRunner
    from tactful.evals.scenario import SupportScenario, load_all

    items, errors = load_all(paths)
    support = sorted((i for i in items if isinstance(i.scenario, SupportScenario)), key=lambda i: i.scenario.id)
    if limit is not None:
        support = support[:limit]
    runner = EvalRunner(settings)
    try:
        runs = await runner.run_many(support, concurrency=8)
    finally:
        for tenant in sorted({item.scenario.tenant for item in support}):
            await _close_engine(runner.context_for(tenant))
    turns = [t for r in runs for t in r.turns]
    bot_turns = [t for t in turns if t.mode_before == "bot"]
    calls = [t.result.usage["model_calls"] for t in turns]
    kinds: dict[int, int] = {}
    for c in calls:
        kinds[c] = kinds.get(c, 0) + 1
    return {
        "scenarios": len(support),
        "scenario_errors": len(errors) + sum(1 for r in runs if r.error),
        "turns": len(turns),
        "bot_turns": len(bot_turns),
        "model_calls": sum(calls),
        "mean_calls_per_turn": round(sum(calls) / max(1, len(turns)), 3),
        "mean_calls_per_bot_turn": round(sum(calls) / max(1, len(bot_turns)), 3),
        "turns_by_call_count": {str(k): v for k, v in sorted(kinds.items())},
        "degraded_turns": sum(1 for t in turns if t.result.degraded),
        "mean_prompt_tokens_per_turn": round(
            sum(t.result.usage["prompt_tokens"] for t in turns) / max(1, len(turns))
        ),
    }


SPECIALIST_CALLS = ("analysis", "analysis", "reply")  # intent, sentiment, reply: each its own call


def one_call_per_specialist(rows: Sequence[JSON], systems: dict[str, str], *, model: str) -> list[int] | None:
    """Prompt tokens per turn had every specialist made its own call carrying the whole conversation so far:
    ``None`` when the fake never saw a request of a kind the baseline needs (its system text is unknown)."""
    handoff = bool(rows) and rows[-1]["mode"] == "human"
    needed = set(SPECIALIST_CALLS) | ({"summary"} if handoff else set())
    if not needed <= set(systems):
        return None
    history: list[ChatTurn] = []
    out: list[int] = []
    for r in rows:
        history.append({"role": "user", "content": r["user"]})
        kinds = [*SPECIALIST_CALLS, *(["summary"] if r["mode"] == "human" else [])]
        out.append(sum(count_chat([{"role": "system", "content": systems[k]}, *history], model=model) for k in kinds))
        if r["reply"]:
            history.append({"role": "assistant", "content": r["reply"]})
    return out


def _summarise(rows: list[JSON], naive: list[int] | None = None) -> JSON:
    at = {r["turn"]: r for r in rows}
    marks = {str(n): {k: at[n][k] for k in ("model_calls", "calls", "prompt_tokens", "reply_prompt_tokens")}
             for n in MARKS if n in at}
    out: JSON = {
        "turns": len(rows),
        "ended_in_handoff": bool(rows) and rows[-1]["mode"] == "human",
        "mean_calls_per_turn": round(sum(r["model_calls"] for r in rows) / max(1, len(rows)), 3),
        "mean_prompt_tokens_per_turn": round(sum(r["prompt_tokens"] for r in rows) / max(1, len(rows))),
        "prompt_tokens_per_turn": [r["prompt_tokens"] for r in rows],
        "model_calls_per_turn": [r["model_calls"] for r in rows],
        "at": marks,
        "degraded_turns": sum(1 for r in rows if r["degraded"]),
    }
    if 5 in at and 30 in at:
        t5, t30 = at[5], at[30]
        out["prompt_ratio_30_over_5"] = round(t30["prompt_tokens"] / max(1, t5["prompt_tokens"]), 3)
        out["reply_prompt_ratio_30_over_5"] = round(
            t30["reply_prompt_tokens"] / max(1, t5["reply_prompt_tokens"]), 3
        )
        # per model call: the same kind of work at both points, whatever mix of calls each turn made
        per_call_30 = t30["prompt_tokens"] / max(1, t30["model_calls"])
        per_call_5 = t5["prompt_tokens"] / max(1, t5["model_calls"])
        out["prompt_per_call_ratio_30_over_5"] = round(per_call_30 / max(1.0, per_call_5), 3)
        window = [r["prompt_tokens"] for r in rows if 26 <= r["turn"] <= 30]
        first = [r["prompt_tokens"] for r in rows if 1 <= r["turn"] <= 5]
        out["prompt_ratio_turns_26_30_over_1_5"] = round(sum(window) / max(1, sum(first)), 3)
    if naive is not None:
        for n, mark in marks.items():
            mark["one_call_per_specialist_prompt_tokens"] = naive[int(n) - 1]
        actual = sum(r["prompt_tokens"] for r in rows)
        out["one_call_per_specialist"] = {
            "calls_per_turn": round(sum(len(SPECIALIST_CALLS) + (r["mode"] == "human") for r in rows)
                                    / max(1, len(rows)), 3),
            "prompt_tokens_per_turn": naive,
            "mean_prompt_tokens_per_turn": round(sum(naive) / max(1, len(naive))),
            "prompt_tokens_over_actual": round(sum(naive) / max(1, actual), 2),
        }
    return out


def bench(*, quick: bool, turns: int = 30, latency_ms: float = 5.0, scenario_limit: int | None = None) -> JSON:
    """The ``economy`` section. The fake answers after ``latency_ms`` (counts do not depend on it)."""
    started = time.perf_counter()
    limit = scenario_limit if scenario_limit is not None else (12 if quick else None)
    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as tmp, \
            FakeOpenAIServer(FakeModelConfig(latency_s=latency_ms / 1000, reply_text=REPLY,
                                             completion_tokens=count_tokens(REPLY, model=Settings().model))) as server:
        long_policies = _policy_copy(Path(tmp), "long", turn_budget=turns + 1)
        settings = model_settings(long_policies, server.base_url)
        ctx = build_context(settings, cache=False)
        server.config.structured = _analysis_answerer(ctx)
        server.config.count_prompt = lambda messages: count_chat(messages, model=settings.model)  # type: ignore[arg-type]
        progress(f"economy: a {turns}-turn conversation against the fake model at {server.base_url}")
        rows = asyncio.run(long_conversation(ctx, server.config, turns))
        scenarios: JSON | None = None
        if SCENARIOS.is_dir():
            progress("economy: the support eval scenarios on the openai engine")
            scenario_settings = model_settings(_policy_copy(Path(tmp), "scenarios"), server.base_url)
            scenarios = asyncio.run(eval_scenarios(scenario_settings, [SCENARIOS], limit=limit))
        fake = {"base_url": server.base_url, "latency_ms": latency_ms, "requests": server.config.calls}
        # priced after the scenarios ran too, so that every request kind's system text has been seen
        long = _summarise(rows, one_call_per_specialist(rows, server.config.system_prompts, model=settings.model))
    targets = [
        Target("mean_calls_per_turn", scenarios["mean_calls_per_turn"] if scenarios else None,
               TARGET_CALLS_PER_TURN, "max",
               note="over the support eval scenarios" + (f" (first {limit} in --quick)" if limit else "")),
        Target("prompt_ratio_30_over_5", long.get("prompt_ratio_30_over_5"), TARGET_GROWTH_30_OVER_5, "max",
               note="prompt tokens of turn 30 / turn 5 (all calls of the turn)" if "prompt_ratio_30_over_5" in long
               else f"not measured: the conversation ended at turn {long['turns']}"
               + (" in a handoff" if long["ended_in_handoff"] else "")),
    ]
    data: JSON = {
        "engine": "openai",
        "fake_model": fake,
        "eval_scenarios": scenarios,
        "long_conversation": long,
    }
    return section(targets, json.loads(json.dumps(data)), wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    lines: list[str] = []
    ev = sec.get("eval_scenarios")
    if ev:
        lines += table(
            ["support scenarios", "turns", "model calls", "calls / turn", "calls / bot turn", "turns by calls",
             "degraded", "prompt tokens / turn"],
            [[ev["scenarios"], ev["turns"], ev["model_calls"], ev["mean_calls_per_turn"],
              ev["mean_calls_per_bot_turn"], ", ".join(f"{k}: {v}" for k, v in ev["turns_by_call_count"].items()),
              ev["degraded_turns"], ev["mean_prompt_tokens_per_turn"]]],
        )
    long = sec.get("long_conversation", {})
    at = long.get("at", {})
    if at:
        lines += [f"A {long.get('turns')}-turn conversation:", ""]
        lines += table(["turn", "model calls", "calls", "prompt tokens", "reply prompt tokens",
                        "one call per specialist"],
                       [[n, r["model_calls"], "+".join(r["calls"]), r["prompt_tokens"], r["reply_prompt_tokens"],
                         r.get("one_call_per_specialist_prompt_tokens")] for n, r in at.items()])
        lines += [
            f"Turn 30 / turn 5: all prompt tokens {fmt(long.get('prompt_ratio_30_over_5'))}×, "
            f"reply prompt {fmt(long.get('reply_prompt_ratio_30_over_5'))}×, per model call "
            f"{fmt(long.get('prompt_per_call_ratio_30_over_5'))}×; turns 26–30 / turns 1–5: "
            f"{fmt(long.get('prompt_ratio_turns_26_30_over_1_5'))}×. Mean calls per turn of this conversation: "
            f"{fmt(long.get('mean_calls_per_turn'))}.",
            "",
        ]
        naive = long.get("one_call_per_specialist")
        if naive:
            lines += [
                f"One call per specialist (intent, sentiment and reply each carrying the whole conversation): "
                f"{fmt(naive['calls_per_turn'])} calls and {fmt(naive['mean_prompt_tokens_per_turn'])} prompt "
                f"tokens a turn — {fmt(naive['prompt_tokens_over_actual'])}× the prompt tokens of the turns above "
                f"({fmt(long.get('mean_prompt_tokens_per_turn'))} a turn).",
                "",
            ]
    return lines


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--economy-turns", type=positive_int, default=30, metavar="N",
                       help="turns of the long conversation (default 30; the 30-over-5 ratio needs 30 or more)")


SECTION = Section(
    name="economy",
    title="Model economy",
    summary="model calls and prompt tokens per turn against the local fake model",
    run=lambda args: bench(quick=args.quick, turns=args.economy_turns),
    render=render,
    options=options,
)
