"""The markdown summary of a ``tactful bench`` run (``--markdown PATH``).

The generated part sits between ``<!-- bench:begin -->`` and ``<!-- bench:end -->``; when PATH already holds
those markers, only the part between them is replaced, so notes written around it (analysis, profiles) survive
a re-run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tactful.bench.common import JSON
from tactful.bench.markdown import fmt, table
from tactful.bench.sections import BY_NAME

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


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
                f"{fmt(t.get('missed_by'))}" + (f" ({t['missed_by_pct']:g} %)" if "missed_by_pct" in t else "")
            )
            rows.append([f"{name}: {tname}", t["target"], t["value"], "met" if t["met"] else "**missed**", missed])
    return rows


def render(report: JSON) -> str:
    m = report["machine"]
    lines = [
        f"### `tactful bench` — {report['mode']} run, {report['started_at']}",
        "",
        f"- Command: `{report['command']}`",
        f"- Machine: {m['cpu_count']} × {m['cpu_model']}, {fmt(m.get('memory_gib'))} GiB, Python {m['python']} "
        f"({m['platform']}); load average at start {m.get('load_average_at_start')}; commit "
        f"{m.get('git_commit') or '–'}",
        f"- Started {report['started_at']}, finished {report['finished_at']}, wall time {report['wall_s']:.0f} s",
        "",
    ]
    lines += table(["section: target", "target", "value", "status", "missed by"], summary_rows(report))
    for name, sec in report["sections"].items():
        known = BY_NAME.get(name)
        title, writer = (known.title, known.render) if known else (name, None)
        lines += [f"#### {title}", ""]
        if sec.get("status") != "ok":
            lines += [f"{_status(sec)}: {sec.get('skipped') or sec.get('error')}", ""]
            continue
        if writer is not None:
            try:
                lines += writer(sec)
            except (KeyError, TypeError, ValueError) as exc:  # a partial section must not lose the report
                lines += [f"(could not render: {type(exc).__name__}: {exc})", ""]
        lines += [f"Section wall time: {fmt(sec.get('wall_s'))} s.", ""]
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
