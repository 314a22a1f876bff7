"""The markdown summary of a ``tactful bench`` run (``--markdown PATH``).

The generated part sits between ``<!-- bench:begin -->`` and ``<!-- bench:end -->``; when PATH already holds
those markers, only the part between them is replaced, so notes written around it (analysis, profiles) survive
a re-run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tactful.bench.common import JSON

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _status(sec: JSON) -> str:
    if sec.get("status") == "skipped":
        return "skipped"
    if sec.get("status") == "error":
        return "error"
    return "met" if sec.get("met") else "**missed**"


def summary_rows(report: JSON) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, sec in report["sections"].items():
        if sec.get("status") != "ok":
            rows.append([name, "–", "–", _status(sec), sec.get("skipped") or sec.get("error") or ""])
            continue
        for tname, t in sec.get("targets", {}).items():
            missed = "" if t["met"] else (
                f"{_fmt(t.get('missed_by'))}" + (f" ({t['missed_by_pct']:g} %)" if "missed_by_pct" in t else "")
            )
            rows.append([f"{name}: {tname}", t["target"], t["value"], "met" if t["met"] else "**missed**", missed])
    return rows


def _overhead(sec: JSON) -> list[str]:
    lines = _table(
        ["", "support turn", "bare LangGraph turn", "ratio", "per node (support)", "nodes", "turns"],
        [["µs", sec["support_turn_us"], sec["bare_turn_us"], sec["ratio"], sec["support_us_per_node"],
          sec["nodes"], sec["turns"]]],
    )
    outcomes = sec.get("support_turns_by_outcome")
    if outcomes:
        lines += ["Support turns by outcome: " + ", ".join(f"{k} {v}" for k, v in outcomes.items())
                  + " (a handed-off conversation is replaced by a new one).", ""]
    split = sec.get("split_us", {})
    lines += ["Split of a support turn (µs; specialists called directly, checkpointer measured in the real turns):",
              ""]
    lines += _table(list(split), [list(split.values())])
    cp = sec.get("checkpoint", {})
    if cp:
        lines += [
            f"Checkpointer: SQLite adds {_fmt(cp.get('sqlite_cost_us_per_support_turn'))} µs to a support turn "
            f"(in memory: {_fmt(cp.get('support_turn_in_memory_us'))} µs) and "
            f"{_fmt(cp.get('sqlite_cost_us_per_bare_turn'))} µs to a bare turn "
            f"(in memory: {_fmt(cp.get('bare_turn_in_memory_us'))} µs); "
            f"{_fmt(cp.get('support_write_calls_per_turn'))} write calls per turn, a write in flight for "
            f"{_fmt(cp.get('support_write_us_per_turn'))} µs of each support turn.",
            "",
        ]
    conc = sec.get("concurrent")
    if conc:
        lines += [
            f"{conc['conversations']} conversations at once (offline, in process): SQLite "
            f"{_fmt(conc['sqlite']['turns_per_s'])} turns/s with a checkpoint write in flight "
            f"{_fmt(100 * conc['sqlite'].get('write_in_flight_share', 0))} % of the time; in memory "
            f"{_fmt(conc['in_memory']['turns_per_s'])} turns/s.",
            "",
        ]
    return lines


def _economy(sec: JSON) -> list[str]:
    lines: list[str] = []
    ev = sec.get("eval_scenarios")
    if ev:
        lines += _table(
            ["support scenarios", "turns", "model calls", "calls / turn", "calls / bot turn", "turns by calls",
             "degraded", "prompt tokens / turn"],
            [[ev["scenarios"], ev["turns"], ev["model_calls"], ev["mean_calls_per_turn"],
              ev["mean_calls_per_bot_turn"], ", ".join(f"{k}: {v}" for k, v in ev["turns_by_call_count"].items()),
              ev["degraded_turns"], ev["mean_prompt_tokens_per_turn"]]],
        )
    long = sec.get("long_conversation", {})
    at = long.get("at", {})
    if at:
        lines += ["A 30-turn conversation:", ""]
        lines += _table(["turn", "model calls", "calls", "prompt tokens", "reply prompt tokens"],
                        [[n, r["model_calls"], "+".join(r["calls"]), r["prompt_tokens"], r["reply_prompt_tokens"]]
                         for n, r in at.items()])
        lines += [
            f"Turn 30 / turn 5: all prompt tokens {_fmt(long.get('prompt_ratio_30_over_5'))}×, "
            f"reply prompt {_fmt(long.get('reply_prompt_ratio_30_over_5'))}×, per model call "
            f"{_fmt(long.get('prompt_per_call_ratio_30_over_5'))}×; turns 26–30 / turns 1–5: "
            f"{_fmt(long.get('prompt_ratio_turns_26_30_over_1_5'))}×. Mean calls per turn of this conversation: "
            f"{_fmt(long.get('mean_calls_per_turn'))}.",
            "",
        ]
    return lines


def _profile_lines(prof: JSON, *, key_self: str, key_pkg: str, top: int = 8) -> list[str]:
    if prof.get("status") not in (None, "ok"):
        return [f"Profile: {prof.get('status')} ({prof.get('reason')})", ""]
    out: list[str] = []
    pkgs = prof.get(key_pkg, [])[:top]
    if pkgs:
        out.append("- by package: " + ", ".join(f"{p['name']} {100 * p['share']:.0f} %" for p in pkgs))
    fns = prof.get(key_self, [])[:top]
    if fns:
        out.append("- by function: " + "; ".join(f"`{p['name']}` {100 * p['share']:.1f} %" for p in fns))
    return [*out, ""]


def _step_row(s: JSON) -> list[Any]:
    cpu = s.get("server_cpu") or {}
    return [s["concurrency"], s["turns_ok"], s["throughput_turns_per_s"], s["added_ms"]["p50"], s["added_ms"]["p99"],
            s["latency_ms"]["p99"], s["model_calls_per_turn"], s["errors"], cpu.get("cpu_ms_per_turn"),
            cpu.get("cores_used"), s.get("machine_busy_share")]


STEP_HEADER = ["concurrent", "turns", "turns/s", "added p50 ms", "added p99 ms", "latency p99 ms", "calls/turn",
               "errors", "server CPU ms/turn", "server cores", "machine busy"]


def _load(sec: JSON) -> list[str]:
    lines = [
        f"Model latency {_fmt(sec['model_latency_ms'])} ms; no think time; {sec['turns_per_conversation']} turns "
        f"per conversation; each step {_fmt(sec['step_duration_s'])} s."
        + (f" Server profile {sec['profile']}." if sec.get("profile") else ""),
        "",
    ]
    for name, b in sec["backends"].items():
        if b.get("status") != "ok":
            lines += [f"**{name}**: {b.get('skipped') or b.get('error') or b.get('reason') or b.get('status')}", ""]
            continue
        idle = b.get("idle", {}).get("added_ms", {})
        lines += [f"**{name}** (1 worker; one conversation at a time: added p50 {_fmt(idle.get('p50'))} ms):", ""]
        lines += _table(STEP_HEADER, [_step_row(s) for s in b["steps"]])
        open_step = b.get("open_conversations")
        if open_step:
            lines += [
                f"Open conversations: {open_step['concurrency']} conversations, each person waiting "
                f"{_fmt(open_step['think_time_s'] / 2)}–{_fmt(1.5 * open_step['think_time_s'])} s between a reply and "
                f"their next message (offered ≈ {_fmt(open_step.get('offered_turns_per_s'))} turns/s), "
                f"{_fmt(open_step['duration_s'])} s — reported, not scored:",
                "",
            ]
            lines += _table(STEP_HEADER, [_step_row(open_step)])
        for s in b["steps"]:
            if "profile" in s:
                prof = s["profile"]
                tool = prof.get("tool", "py-spy")
                lines += [f"py-spy profile of the server at {s['concurrency']} concurrent ({tool}; "
                          f"{_fmt(prof.get('samples'))} samples), share by component:", ""]
                comps = prof.get("by_component", [])
                if comps:
                    lines += _table([c["name"] for c in comps], [[f"{100 * c['share']:.1f} %" for c in comps]])
                lines += _profile_lines(prof, key_self="self_by_function", key_pkg="self_by_package")
    return lines


def _evalspeed(sec: JSON) -> list[str]:
    rows = [[k.replace("jobs_", "--jobs "), v["scenarios_per_s"], ", ".join(f"{x:g}" for x in v["runs_s"])]
            for k, v in sec.items() if k.startswith("jobs_")]
    lines = [f"{sec['scenarios']} scenarios ({sec['support_turns']} support turns, "
             f"{_fmt(sec['ms_per_support_turn'])} ms per turn); scoring {_fmt(sec['scoring_s'])} s.", ""]
    lines += _table(["run", "scenarios/s", "runs (s)"], rows)
    if "profile" in sec:
        lines += ["cProfile of one `--jobs 1` run (own time):", ""]
        lines += _profile_lines(sec["profile"], key_self="own_by_function", key_pkg="own_by_package")
    return lines


def _classifier(sec: JSON) -> list[str]:
    rows = []
    for name in ("banking77", "clinc150"):
        d = sec.get(name)
        if not d or d.get("status") == "skipped":
            continue
        acc = d.get("in_scope_accuracy", d.get("accuracy"))
        rows.append([name, d["n_train"], d["n_test"], d["fit_s"], acc, d.get("oos_recall"), d["macro_f1"],
                     d["latency_ms_p50"], d["latency_ms_p95"], d["batch_ms_per_message"]])
    lines = _table(["data set", "train rows", "test rows", "fit s", "accuracy (in scope)", "OOS recall",
                    "macro-F1", "p50 ms/msg", "p95 ms/msg", "batch ms/msg"], rows)
    tax = sec.get("taxonomy")
    if tax:
        lines += [f"Taxonomy model (`policies/taxonomy.yaml`): context built with the fit in "
                  f"{_fmt(tax['context_build_s_incl_fit'])} s; classify p50 {_fmt(tax['classify_ms_p50'])} ms, "
                  f"p95 {_fmt(tax['classify_ms_p95'])} ms.", ""]
    return lines


SECTION_WRITERS = {
    "overhead": ("Orchestration overhead", _overhead),
    "economy": ("Model economy", _economy),
    "load": ("Load", _load),
    "evalspeed": ("Eval speed", _evalspeed),
    "classifier": ("Classifier", _classifier),
}


def render(report: JSON) -> str:
    m = report["machine"]
    lines = [
        f"### `tactful bench` — {report['mode']} run, {report['started_at']}",
        "",
        f"- Command: `{report['command']}`",
        f"- Machine: {m['cpu_count']} × {m['cpu_model']}, {_fmt(m.get('memory_gib'))} GiB, Python {m['python']} "
        f"({m['platform']}); load average at start {m.get('load_average_at_start')}; commit "
        f"{m.get('git_commit') or '–'}",
        f"- Started {report['started_at']}, finished {report['finished_at']}, wall time {report['wall_s']:.0f} s",
        "",
    ]
    lines += _table(["section: target", "target", "value", "status", "missed by"], summary_rows(report))
    for name, sec in report["sections"].items():
        title, writer = SECTION_WRITERS.get(name, (name, None))
        lines += [f"#### {title}", ""]
        if sec.get("status") != "ok":
            lines += [f"{_status(sec)}: {sec.get('skipped') or sec.get('error')}", ""]
            continue
        if writer is not None:
            try:
                lines += writer(sec)
            except (KeyError, TypeError, ValueError) as exc:  # a partial section must not lose the report
                lines += [f"(could not render: {type(exc).__name__}: {exc})", ""]
        lines += [f"Section wall time: {_fmt(sec.get('wall_s'))} s.", ""]
    return "\n".join(lines).rstrip() + "\n"


def write(report: JSON, path: Path) -> None:
    """Write the summary to ``path``, keeping whatever surrounds the markers of an earlier run."""
    body = f"{BEGIN}\n{render(report)}{END}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in old and END in old and old.index(BEGIN) < old.index(END):
        rest = old[old.index(END) + len(END):].lstrip("\n")
        text = old[: old.index(BEGIN)] + body + ("\n" + rest if rest else "")
    else:
        text = body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
