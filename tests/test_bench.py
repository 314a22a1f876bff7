"""``tactful bench``: small pieces of every section run for real — the fake OpenAI-compatible server answering the
real ``openai`` client (structured and streamed), the JSON and markdown of a tiny run, the sections' shapes, bad
input. Structure and sanity only: never how fast (machines are noisy)."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any, Literal

import openai
import pytest
from pydantic import BaseModel, Field

from tactful.bench import burst, capacity, classifier, economy, evalspeed, growth, load, profile, report, sections
from tactful.bench.common import Target, section
from tactful.bench.fake_openai import FakeModelConfig, FakeOpenAIServer, instance_of
from tactful.cli import build_parser, main
from tactful.commands.bench import command_line
from tactful.settings import Settings
from tests import REPO_ROOT

SUPPORT_SCENARIOS = REPO_ROOT / "evals" / "scenarios" / "support"


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class Reply(BaseModel):
    intent: Literal["password_reset", "order_status"]
    confidence: float = Field(ge=0, le=1)
    runner_up: str | None
    steps: list[str] = Field(min_length=1)
    urgent: bool


# ---------------------------------------------------------------------------------------------- the fake model


def test_instance_of_gives_a_schema_valid_object() -> None:
    value = instance_of(Reply.model_json_schema())
    parsed = Reply.model_validate(value)
    assert parsed.intent == "password_reset" and 0 <= parsed.confidence <= 1 and parsed.steps


def test_fake_server_answers_the_openai_client_structured_and_streamed() -> None:
    config = FakeModelConfig(latency_s=0.0, completion_tokens=7, reply_text="Open Settings, then Security.")
    with FakeOpenAIServer(config) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=10)
        try:
            structured = client.chat.completions.create(
                model="fake",
                messages=[{"role": "user", "content": "I forgot my password"}],
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "reply", "schema": Reply.model_json_schema()}},
            )
            content = structured.choices[0].message.content
            assert content is not None
            assert Reply.model_validate_json(content).intent in ("password_reset", "order_status")
            assert structured.usage is not None and structured.usage.completion_tokens == 7

            stream = client.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": "hello"}], stream=True,
                stream_options={"include_usage": True},
            )
            pieces, usage = [], None
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
                usage = chunk.usage or usage
            assert "".join(pieces) == "Open Settings, then Security."
            assert len(pieces) > 1  # real SSE: one event per word
            assert usage is not None and usage.prompt_tokens > 0
        finally:
            client.close()
    assert [r["kind"] for r in config.requests] == ["analysis", "reply"]
    assert config.calls == 2


def test_fake_server_uses_the_structured_hook_and_token_counter() -> None:
    config = FakeModelConfig(latency_s=0.0, structured=lambda body: {"answer": body["model"]},
                             count_prompt=lambda messages: 1000 + len(messages))
    with FakeOpenAIServer(config) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=10)
        try:
            r = client.chat.completions.create(
                model="m-1", messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                response_format={"type": "json_object"},
            )
        finally:
            client.close()
    assert json.loads(r.choices[0].message.content or "") == {"answer": "m-1"}
    assert r.usage is not None and r.usage.prompt_tokens == 1002
    assert config.prompt_tokens_seen == [1002]


# ---------------------------------------------------------------------------------------------- the command


def test_bench_quick_overhead_prints_one_json_object_and_writes_markdown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out, md = tmp_path / "out" / "bench.json", tmp_path / "bench.md"
    code, stdout, _ = _run(capsys, "bench", "--quick", "--only", "overhead", "--turns", "8", "--no-profile",
                           "--out", out, "--markdown", md)
    assert code == 0
    result = json.loads(stdout)  # stdout is exactly one JSON object
    assert json.loads(out.read_text()) == result
    for key in ("started_at", "finished_at", "wall_s", "machine", "sections", "summary", "command", "mode"):
        assert key in result
    assert result["mode"] == "quick" and result["wall_s"] > 0
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["cpu_model"] and machine["python"] and machine["platform"]
    assert list(result["sections"]) == ["overhead"]
    sec = result["sections"]["overhead"]
    assert sec["status"] == "ok" and isinstance(sec["met"], bool)
    target = sec["targets"]["ratio"]
    assert target["max"] == 2.0 and target["value"] == sec["ratio"] > 0
    assert ("missed_by" in sec) == (not sec["met"])
    assert sec["support_turn_us"] > 0 and sec["bare_turn_us"] > 0 and sec["nodes"] == 10
    for part in ("classification", "sentiment", "policy", "guards", "templating", "checkpoint_writes"):
        assert sec["split_us"][part] >= 0
    assert sec["checkpoint"]["support_write_calls_per_turn"] > 0
    outcomes = sec["support_turns_by_outcome"]
    assert sum(outcomes.values()) == 8 and "human/none" not in outcomes  # every timed turn ran the graph
    concurrent = sec["concurrent"]
    assert concurrent["sqlite"]["turns_per_s"] > 0 and concurrent["in_memory"]["turns_per_s"] > 0
    assert 0 <= concurrent["sqlite"]["write_in_flight_share"] <= 1.5
    text = md.read_text()
    assert "| section: target | target | value | status | missed by |" in text
    assert "| overhead: ratio | <= 2 |" in text
    assert text.startswith(report.BEGIN) and text.rstrip().endswith(report.END)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "overhead,speed"], "--only: unknown section 'speed'"),
        (["--only", ","], "--only needs at least one section"),
    ],
)
def test_bad_only_is_one_clear_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, stdout, stderr = _run(capsys, "bench", *argv)
    assert code == 2 and stdout == ""
    assert stderr.strip().splitlines() == [f"tactful: error: {stderr.split('error: ', 1)[1].strip()}"]
    assert message in stderr and "Traceback" not in stderr
    assert "overhead, economy, load, burst, eventloop, evalspeed, classifier" in stderr


@pytest.mark.parametrize("argv", [["--load-steps", "0,5"], ["--turns", "-3"], ["--load-duration", "x"]])
def test_bad_numbers_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "tactful bench: error: argument" in err and "Traceback" not in err


def test_out_pointing_at_a_directory_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, stdout, stderr = _run(capsys, "bench", "--only", "overhead", "--out", tmp_path)
    assert code == 2 and stdout == "" and "is a directory" in stderr


# ---------------------------------------------------------------------------------------------- sections


def test_targets_report_met_and_missed_by() -> None:
    hit, miss = Target("ratio", 1.5, 2.0, "max"), Target("rate", 80.0, 100.0, "min", unit="/s")
    assert hit.met and hit.missed_by is None
    assert not miss.met and miss.missed_by == 20.0
    sec = section([hit, miss], {"x": 1}, wall_s=0.5)
    assert sec["met"] is False and sec["missed_by"] == {"rate": 20.0}
    assert sec["targets"]["rate"]["missed_by_pct"] == 20.0 and sec["targets"]["rate"]["target"] == ">= 100 /s"
    assert "missed_by" not in sec["targets"]["ratio"] and sec["x"] == 1
    assert not Target("none", None, 1.0, "min").met


def test_economy_counts_calls_and_tokens_against_the_fake_server() -> None:
    sec = economy.bench(quick=True, turns=6, scenario_limit=2)
    assert sec["status"] == "ok" and sec["engine"] == "openai"
    assert sec["fake_model"]["requests"] > 0 and sec["fake_model"]["base_url"].startswith("http://127.0.0.1:")
    long = sec["long_conversation"]
    assert long["turns"] == 6 and len(long["prompt_tokens_per_turn"]) == 6
    assert all(t > 0 for t in long["prompt_tokens_per_turn"])
    assert long["at"]["5"]["model_calls"] >= 1
    ev = sec["eval_scenarios"]
    assert ev["scenarios"] == 2 and ev["turns"] > 0 and ev["mean_calls_per_turn"] >= 0
    assert sec["targets"]["mean_calls_per_turn"]["value"] == ev["mean_calls_per_turn"]
    assert sec["targets"]["prompt_ratio_30_over_5"]["value"] is None  # only 6 turns: not measured, not met
    naive = long["one_call_per_specialist"]  # every request kind was seen, so the baseline is priced
    assert naive["calls_per_turn"] == 3.0 and len(naive["prompt_tokens_per_turn"]) == 6
    assert naive["prompt_tokens_per_turn"] == sorted(naive["prompt_tokens_per_turn"])  # each carries the history
    assert naive["prompt_tokens_over_actual"] > 1  # three calls with the whole conversation cost more
    assert long["at"]["5"]["one_call_per_specialist_prompt_tokens"] == naive["prompt_tokens_per_turn"][4]


def test_one_call_per_specialist_is_unpriced_without_a_kind_it_needs() -> None:
    rows = [{"user": "hi", "reply": "hello", "mode": "bot"}]
    assert economy.one_call_per_specialist(rows, {"reply": "system"}, model="gpt-4o-mini") is None
    two = economy.one_call_per_specialist([*rows, {"user": "and more", "reply": None, "mode": "bot"}],
                                          {"reply": "s", "analysis": "s"}, model="gpt-4o-mini")
    assert two is not None and two[1] > two[0] > 0


# ---------------------------------------------------------------------------------------------- the registry


def test_every_section_is_registered_once_with_a_title_and_a_renderer() -> None:
    names = [s.name for s in sections.SECTIONS]
    assert len(names) == len(set(names)) and names[:3] == ["overhead", "economy", "load"]
    assert all(s.title and s.summary and s.render is not None for s in sections.SECTIONS)
    assert sections.BY_NAME["burst"] is burst.SECTION


def test_the_command_line_records_the_options_not_at_their_default() -> None:
    args = build_parser(["bench"]).parse_args(
        ["bench", "--quick", "--only", "load,burst", "--load-steps", "4,16", "--model-latency-ms", "20",
         "--burst-messages", "8", "--load-engine", "offline"])
    args.database_url, args.database_url_given = "postgresql://u:secret@h:5432/db", True
    line = command_line(args)
    assert line.startswith("tactful bench --quick --only load,burst --load-steps 4,16 --model-latency-ms 20 ")
    assert "--load-engine offline" in line and "--burst-messages 8" in line and "--economy-turns" not in line
    assert "secret" not in line and line.endswith("--database-url 'postgresql://u:***@h:5432/db'")


def test_evalspeed_runs_scenarios_through_the_eval_runner() -> None:
    paths = sorted(SUPPORT_SCENARIOS.rglob("*.yaml"))[:3]
    assert len(paths) == 3
    sec = evalspeed.bench(quick=True, paths=paths, with_profile=True)
    assert sec["scenarios"] == 3 and sec["jobs_1"]["scenarios_per_s"] > 0
    assert sec["targets"]["scenarios_per_s"]["min"] == 100.0
    prof = sec["profile"]
    assert prof["own_by_package"] and prof["own_by_function"]
    assert abs(sum(p["share"] for p in prof["own_by_package"]) - 1.0) < 0.2


def test_classifier_without_datasets_is_a_clear_skip(tmp_path: Path) -> None:
    sec = classifier.bench(quick=True, datasets=tmp_path / "no-such-dir")
    assert sec["status"] == "skipped" and sec["met"] is None
    assert "not found" in sec["skipped"] and str(tmp_path / "no-such-dir") in sec["skipped"]
    assert sec["taxonomy"]["classify_ms_p50"] > 0  # the product's own model is still measured


def test_classifier_on_a_tiny_data_set(tmp_path: Path) -> None:
    from tests.test_intent_model import synthetic

    texts, labels = synthetic(per_class=20)
    root = tmp_path / "datasets"
    (root / "banking77").mkdir(parents=True)
    with (root / "banking77" / "train.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(zip(texts, labels, strict=True))
    sec = classifier.bench(quick=False, datasets=root)
    assert sec["status"] == "ok"
    b = sec["banking77"]
    assert b["n_train"] > b["n_test"] > 0 and 0 <= b["accuracy"] <= 1 and b["fit_s"] > 0
    assert b["latency_ms_p50"] > 0 and isinstance(b["top_confusions"], list)
    assert sec["clinc150"]["status"] == "skipped"
    assert set(sec["targets"]) == {"banking77.accuracy"}


@pytest.mark.slow
def test_load_drives_a_real_serve_process(tmp_path: Path) -> None:
    sec = load.bench(quick=True, steps=(2,), duration_s=1.0, model_latency_ms=20.0, drain_s=20.0,
                     profile_s=0.0, database_url=None)
    sqlite = sec["backends"]["sqlite"]
    assert sqlite["status"] == "ok", sqlite
    step = sqlite["steps"][0]
    assert step["concurrency"] == 2 and step["turns_ok"] > 0 and step["errors"] == 0
    assert step["model_calls_per_turn"] >= 1  # every turn asked the fake model for its reply
    assert step["latency_ms"]["p50"] >= 20.0 and step["added_ms"]["p99"] is not None
    assert sec["backends"]["postgres"] == {"status": "skipped", "skipped": "skipped: DATABASE_URL not set"}
    assert {"sqlite.max_concurrency_within_p99", "sqlite.p99_added_ms_at_2"} == set(sec["targets"])


@pytest.mark.slow
def test_burst_serializes_messages_to_one_conversation() -> None:
    sec = burst.bench(quick=True, messages=6)
    sqlite = sec["backends"]["sqlite"]
    assert sqlite["status"] == "ok", sqlite
    assert sqlite["statuses"] == {"200": 6} and sqlite["turns_out_of_order"] == 0
    assert sqlite["stored_user_messages"] == sqlite["distinct_message_ids"] == 6
    assert sec["met"] is True and set(sec["targets"]) == {
        "sqlite.turns_out_of_order", "sqlite.stored_not_answered", "sqlite.refused"}
    assert sec["backends"]["postgres"]["status"] == "skipped"
    assert "| sqlite | 200: 6 | 0 | 6 |" in "\n".join(burst.render(sec))


@pytest.mark.slow
def test_burst_past_a_short_lock_bound_refuses_without_storing() -> None:
    sec = burst.bench(quick=True, messages=12, lock_timeout_s=0.05)
    b = sec["backends"]["sqlite"]
    assert b["status"] == "ok", b
    assert b["refused"] > 0 and set(b["statuses"]) <= {"200", "409", "503"}
    assert b["stored_user_messages"] == b["answered"] and b["turns_out_of_order"] == 0
    assert "sqlite.refused" not in sec["targets"]  # refusals are the point of a short bound


# ---------------------------------------------------------------------------------------------- report, profile


def _report(sections: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "quick", "command": "tactful bench --quick", "started_at": "2025-01-01T00:00:00+00:00",
        "finished_at": "2025-01-01T00:00:30+00:00", "wall_s": 30.0,
        "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "memory_gib": 4.0, "python": "3.11.0",
                    "platform": "Linux", "load_average_at_start": [0.1, 0.1, 0.1], "git_commit": "abc1234"},
        "sections": sections,
    }


def test_markdown_keeps_notes_around_the_generated_part(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text(f"# Benchmarks\n\nintro\n\n{report.BEGIN}\nold figures\n{report.END}\n\n## Analysis\n\nkept\n")
    sec = section([Target("scenarios_per_s", 80.0, 100.0, "min", unit="/s")],
                  {"scenarios": 3, "support_turns": 5, "ms_per_support_turn": 2.0, "scoring_s": 0.1,
                   "jobs_1": {"runs_s": [0.1], "scenarios_per_s": 80.0}}, wall_s=1.0)
    skipped = {"status": "skipped", "met": None, "skipped": "skipped: datasets directory x not found"}
    report.write(_report({"evalspeed": sec, "classifier": skipped}), path)
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n\n" + report.BEGIN) and text.endswith("## Analysis\n\nkept\n")
    assert "old figures" not in text
    assert "| evalspeed: scenarios_per_s | >= 100 /s | 80 | **missed** | 20 (20 %) |" in text
    assert "| classifier | – | – | skipped | skipped: datasets directory x not found |" in text
    assert "Test CPU" in text and "tactful bench --quick" in text


def test_collapsed_stacks_are_grouped_by_component() -> None:
    raw = "\n".join([
        "thread (1): MainThread;run (/x/site-packages/uvicorn/server.py:1);"
        "classify (/repo/agents/intent.py:3);predict (/x/site-packages/sklearn/svm.py:9) 6",
        "thread (1): MainThread;run (/x/site-packages/uvicorn/server.py:1);"
        "tick (/x/site-packages/langgraph/pregel/_loop.py:5) 3",
        "thread (2): Thread-1;_worker (/x/lib/python3.11/concurrent/futures/thread.py:2) 1",
    ])
    summary = profile.collapsed_summary(raw)
    assert summary["samples"] == 10
    by = {c["name"]: c["share"] for c in summary["by_component"]}
    assert by == {"specialists (agents/)": 0.6, "LangGraph runtime": 0.3, "event loop and other": 0.1}
    assert summary["threads"] == {"MainThread": 0.9, "Thread-1": 0.1}
    assert profile.package_of("/x/lib/python3.11/site-packages/langgraph/pregel/main.py") == "langgraph"
    assert profile.package_of("/x/lib/python3.11/asyncio/events.py") == "asyncio"


def test_growth_reports_checkpoint_bytes_per_turn_against_a_bare_graph_on_the_same_durability() -> None:
    sec = growth.bench(quick=True, turns=10)
    assert sec["status"] == "ok"
    assert list(sec["support_kb_per_turn"]) == list(sec["bare_kb_per_turn"]) == ["1", "10"]
    assert all(v > 0 for v in [*sec["support_kb_per_turn"].values(), *sec["bare_kb_per_turn"].values()])
    assert sec["durability"] == Settings().durability
    assert all(o.startswith("bot/") for o in sec["support_outcome_at_turn"].values())  # the full path every turn
    assert sec["targets"]["max_support_kb_per_turn"]["value"] == max(sec["support_kb_per_turn"].values())
    assert any("KB" in line for line in growth.render(sec))


def test_overhead_times_the_specialists_inside_the_graph() -> None:
    from tactful.bench.overhead import _in_graph
    from tests.support_helpers import shared_context

    inside = asyncio.run(_in_graph(shared_context(), turns=4))
    for node in ("ingest", "intent", "sentiment", "policy", "responder", "output_guard", "finish"):
        assert inside[node] > 0
    assert inside["turn"] >= inside["nodes_total"] > 0


@pytest.mark.slow
def test_capacity_holds_open_conversations_with_think_time_on_a_real_worker() -> None:
    sec = capacity.bench(quick=True, steps=(3,), think_s=0.3, duration_s=1.5, database_url=None)
    (run,) = sec["runs"]
    assert run["database"] == "sqlite" and run["workers"] == 1
    (step,) = run["steps"]
    assert step["conversations"] == 3 and step["think_time_s"] == 0.3
    assert step["turns_ok"] >= 3 and step["errors"] == 0  # every person got answers, with pauses between
    assert step["latency_ms"]["p99"] is not None and step["offered_turns_per_s"] == 10.0
    assert set(sec["targets"]) == {"sqlitex1.capacity"}
    assert any("think time" in line for line in capacity.render(sec))
