"""Measure what the model engine costs per turn, with respx playing an OpenAI-compatible server (no network).

    python scripts/model_budget.py                 # a 30-turn conversation + every support eval scenario
    python scripts/model_budget.py --turns 40 --json

The fake server answers like a real one would: analysis requests get a valid analysis (the label the offline
classifier would pick), reply requests a streamed reply of ~70 tokens, summary requests a short note; prompt
tokens are counted from the actual request with the engine's own tokenizer. Reported:

- model calls and prompt tokens per turn of a long conversation (turns 5, 15, 30), and their ratio;
- the mean model calls per turn over the support eval scenarios;
- the same turns priced as "one call per specialist" (an intent call, a sentiment call and a reply call every
  turn, each carrying the whole conversation, plus a summary call at handoff).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import respx
import yaml
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import SecretStr

from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import IntentRequest
from tactful.agents.engine.tokens import ChatTurn, count_chat, count_tokens
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings

REPO = Path(__file__).resolve().parent.parent

BASE = "http://llm.invalid/v1"
REPLY = (
    "I can see why that is getting in the way. Here is what usually fixes it: open Settings, choose the "
    "section for this, and follow the steps there; it takes a minute. If that does not do it, reply here and "
    "I will bring in a person from our team, or tell me if I got the topic wrong."
)
SUMMARY = "Customer needs help; the standard steps were tried; handing over with the transcript."

LONG_CONVERSATION = [
    "hi, I forgot my password and can't log in",
    "ok thanks, that worked. where is my order? it was due yesterday",
    "thanks. can I change the delivery address on that order?",
    "great. how do I update the card on file?",
    "thanks, done. the dashboard export button does nothing",
    "ok that fixed it, thanks",
    "how do I set up sso with okta for my team?",
    "got it. my authenticator app got reset, how do I get codes now?",
    "thanks that worked. can I add a second item to my order before it ships?",
    "thanks. what's the status of order 4471?",
    "perfect. the app crashes when I open reports on my phone",
    "ok, updating fixed it. how do I change my billing email?",
    "thanks! can I change the delivery date of my order?",
    "great. can I reset my password from the mobile app?",
    "thanks. my order says delivered but I don't see it",
    "found it with the neighbour, thanks. how do I change the shipping speed?",
    "thanks. the api returns 500 errors since this morning",
    "ok it works now. how do I update my company address on invoices?",
    "cool. can I pay with a different card this month?",
    "thanks. how do I turn on two-factor for my account?",
    "done, thanks. the page keeps loading forever when I upload a file",
    "that worked. where can I track my replacement order?",
    "thanks. can I change the size on my order?",
    "great. how do I sign in with google workspace?",
    "thanks. the csv import fails with an encoding error",
    "fixed, thanks. when will my order ship?",
    "ok. how do I remove an old card?",
    "thanks. my password reset email never arrives",
    "got it now, thanks. the sync between devices stopped",
    "that did it, thank you. can I update the phone number on my account?",
]


# ---------------------------------------------------------------------- the fake server


class FakeServer:
    """An OpenAI-compatible chat endpoint that answers every request kind plausibly and counts what it got."""

    def __init__(self, ctx: TurnContext, model: str) -> None:
        self.ctx = ctx
        self.model = model
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        messages: list[ChatTurn] = body["messages"]
        prompt = count_chat(messages, model=self.model)
        structured = "response_format" in body or "tools" in body
        kind = "analysis" if structured else "reply" if body.get("stream") else "summary"
        self.requests.append({"kind": kind, "prompt_tokens": prompt})
        if kind == "analysis":
            latest = messages[-1]["content"].rsplit("Latest message:\n", 1)[-1].strip()
            guess = self.ctx.offline.classify_now(IntentRequest(turn_key="x", text=latest))
            label = guess.runner_up if guess.label == "human_request" and guess.runner_up else guess.label
            content = json.dumps(
                {
                    "intent": label,
                    # the offline model's own calibrated confidence: a fixed 0.9 made "ok that fixed it,
                    # thanks" look like a confident new issue and ended the long conversation at turn 6
                    "confidence": round(max(guess.confidence, 0.3), 4),
                    "runner_up": None,
                    "sentiment": "calm",
                    "frustration": 0.1,
                    "urgency": 0.2,
                    "hurried": False,
                }
            )
            return _completion(content, prompt, count_tokens(content, model=self.model))
        if kind == "summary":
            return _completion(SUMMARY, prompt, count_tokens(SUMMARY, model=self.model))
        return _stream(REPLY, prompt, count_tokens(REPLY, model=self.model))


def _completion(content: str, prompt: int, completion: int) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        },
    )


def _stream(text: str, prompt: int, completion: int) -> httpx.Response:
    def event(payload: dict[str, Any]) -> str:
        return (
            "data: "
            + json.dumps(
                {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", **payload}
            )
            + "\n\n"
        )

    words = text.split(" ")
    parts = [
        event({"choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]})
        for w in words
    ]
    parts.append(event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    parts.append(
        event(
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )
    )
    parts.append("data: [DONE]\n\n")
    return httpx.Response(200, content="".join(parts).encode(), headers={"content-type": "text/event-stream"})


# ---------------------------------------------------------------------- the naive baseline


def naive_turn_tokens(ctx: TurnContext, transcript: Sequence[tuple[str, str]], *, handoff: bool) -> int:
    """Prompt tokens of one call per specialist, each carrying the whole conversation."""
    model = ctx.settings.model
    engine: Any = ctx.engine
    history: list[ChatTurn] = [
        {"role": "user" if who == "user" else "assistant", "content": text} for who, text in transcript
    ]
    analysis_system = engine._analysis_system
    intent_call = count_chat([{"role": "system", "content": analysis_system}, *history], model=model)
    sentiment_call = intent_call  # its own prompt with the same conversation
    reply_system = engine.prompts["system/support"].text + engine.prompts["system/reply"].text
    reply_call = count_chat([{"role": "system", "content": reply_system + REPLY}, *history], model=model)
    summary_call = (
        count_chat(
            [{"role": "system", "content": engine.prompts["system/summary"].text}, *history], model=model
        )
        if handoff
        else 0
    )
    return intent_call + sentiment_call + reply_call + summary_call


# ---------------------------------------------------------------------- runs


def model_settings(policy_dir: Path) -> Settings:
    return Settings(
        engine="openai", openai_base_url=BASE, openai_api_key=SecretStr("measure"), policy_dir=policy_dir
    )


async def long_conversation(ctx: TurnContext, server: FakeServer, turns: int) -> list[dict[str, Any]]:
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    rows: list[dict[str, Any]] = []
    transcript: list[tuple[str, str]] = []
    lines = (LONG_CONVERSATION * (turns // len(LONG_CONVERSATION) + 1))[:turns]
    for n, line in enumerate(lines, start=1):
        before = len(server.requests)
        result = await runner.turn("long", line)
        sent = server.requests[before:]
        transcript.append(("user", line))
        rows.append(
            {
                "turn": n,
                "action": result.action,
                "mode": result.mode,
                "model_calls": result.usage["model_calls"],
                "calls": [r["kind"] for r in sent],
                "prompt_tokens": result.usage["prompt_tokens"],
                "reply_prompt_tokens": sum(r["prompt_tokens"] for r in sent if r["kind"] == "reply"),
                "completion_tokens": result.usage["completion_tokens"],
                "cost_usd": result.usage["cost_usd"],
                "naive_prompt_tokens": naive_turn_tokens(ctx, transcript, handoff=result.mode == "human"),
            }
        )
        if result.reply:
            transcript.append(("bot", result.reply))
        if result.mode == "human":
            break
    return rows


async def eval_scenarios(settings: Settings, paths: Sequence[Path]) -> dict[str, Any]:
    from tactful.evals.runner import EvalRunner
    from tactful.evals.scenario import SupportScenario, load_all

    items, errors = load_all(paths)
    support = [i for i in items if isinstance(i.scenario, SupportScenario)]
    runner = EvalRunner(settings)
    runs = await runner.run_many(support, concurrency=1)
    turns = [t for r in runs for t in r.turns]
    bot_turns = [t for t in turns if t.mode_before == "bot"]
    calls = [t.result.usage["model_calls"] for t in turns]
    return {
        "scenarios": len(support),
        "scenario_errors": len(errors) + sum(1 for r in runs if r.error),
        "turns": len(turns),
        "bot_turns": len(bot_turns),
        "model_calls": sum(calls),
        "mean_calls_per_turn": round(sum(calls) / max(1, len(turns)), 3),
        "mean_calls_per_bot_turn": round(sum(calls) / max(1, len(bot_turns)), 3),
        "degraded_turns": sum(1 for t in turns if t.result.degraded),
        "mean_prompt_tokens_per_turn": round(
            sum(t.result.usage["prompt_tokens"] for t in turns) / max(1, len(turns))
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument(
        "--scenarios", type=Path, nargs="*", default=[REPO / "evals" / "scenarios" / "support"]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        policy_dir = Path(tmp) / "policies"
        shutil.copytree(Settings().policy_dir, policy_dir)
        support = policy_dir / "support.yaml"
        data = yaml.safe_load(support.read_text())
        data["thresholds"]["turn_budget"] = max(args.turns + 1, data["thresholds"].get("turn_budget", 24))
        support.write_text(yaml.safe_dump(data, sort_keys=False))
        settings = model_settings(policy_dir)
        ctx = build_context(settings, cache=False)
        server = FakeServer(ctx, settings.model)
        with respx.mock(base_url=BASE) as mock:
            mock.post("/chat/completions").mock(side_effect=server)
            rows = asyncio.run(long_conversation(ctx, server, args.turns))
            scenarios = (
                asyncio.run(eval_scenarios(model_settings(Settings().policy_dir), args.scenarios))
                if args.scenarios and all(p.exists() for p in args.scenarios)
                else None
            )

    def at(n: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["turn"] == n), None)

    marks = {n: at(n) for n in (5, 15, 30) if at(n)}
    report: dict[str, Any] = {
        "long_conversation": {
            "turns": len(rows),
            "mean_calls_per_turn": round(sum(r["model_calls"] for r in rows) / max(1, len(rows)), 3),
            "at": {
                n: {
                    k: r[k]
                    for k in (
                        "model_calls",
                        "calls",
                        "prompt_tokens",
                        "reply_prompt_tokens",
                        "completion_tokens",
                        "naive_prompt_tokens",
                    )
                }
                for n, r in marks.items()
                if r
            },
            "mean_prompt_tokens_per_turn": round(sum(r["prompt_tokens"] for r in rows) / max(1, len(rows))),
            "mean_naive_prompt_tokens_per_turn": round(
                sum(r["naive_prompt_tokens"] for r in rows) / max(1, len(rows))
            ),
            "actions": [r["action"] for r in rows],
        },
        "eval_scenarios": scenarios,
    }
    m5, m30 = marks.get(5), marks.get(30)
    if m5 and m30:
        report["long_conversation"]["reply_prompt_ratio_30_over_5"] = round(
            m30["reply_prompt_tokens"] / max(1, m5["reply_prompt_tokens"]), 3
        )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{'turn':>4} {'action':>8} {'calls':>5} {'prompt':>7} {'reply prompt':>12} {'naive prompt':>12}"
        "  requests"
    )
    for r in rows:
        print(
            f"{r['turn']:>4} {r['action']:>8} {r['model_calls']:>5} {r['prompt_tokens']:>7} "
            f"{r['reply_prompt_tokens']:>12} {r['naive_prompt_tokens']:>12}  {','.join(r['calls'])}"
        )
    print(
        json.dumps({k: v for k, v in report["long_conversation"].items() if k not in {"actions"}}, indent=2)
    )
    print(json.dumps({"eval_scenarios": scenarios}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
