"""The eval report: ``report.json`` (everything, machine-readable) and a self-contained ``report.html``.

The HTML has no external resources: charts are inline SVG, styles are inline CSS. It shows each gated metric
as a bar against its threshold, failures by type, sentiment trajectories, confusion matrices of expected vs
actual actions (support) and decisions (marketing), and every failed scenario with its transcript and the
decision factors at the failing turn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tactful.evals.gates import GateResult
from tactful.evals.metrics import SuiteMetrics
from tactful.evals.records import ScenarioRun, TurnRecord
from tactful.evals.scenario import ScenarioError
from tactful.evals.scoring import ScenarioScore

REPORT_VERSION = 1


class RunInfo(BaseModel):
    """Facts about this run that vary between runs (kept apart so the rest of the report is deterministic)."""

    model_config = ConfigDict(defer_build=True)

    duration_s: float
    scenarios_per_s: float
    cpu_s: float  # CPU time of this process and its worker processes while the scenarios ran
    scenarios_per_cpu_s: float  # throughput per core, steadier than wall-clock on a shared machine
    jobs: int


def turn_view(r: TurnRecord, *, factors: bool) -> dict[str, Any]:
    res = r.result
    view: dict[str, Any] = {
        "turn": r.turn,
        "user": r.user,
        "events": [e["type"] for e in r.events],
        "mode_before": r.mode_before,
        "action": res.action,
        "reply": res.reply,
        "intent": {"label": res.intent["label"], "confidence": res.intent["confidence"]}
        if res.intent
        else None,
        "sentiment": (
            {
                k: dict(res.sentiment)[k]
                for k in ("label", "frustration", "urgency", "trend", "markers", "hurried")
            }
            if res.sentiment
            else None
        ),
        "decision": {"rule": res.decision["rule"], "reason": res.decision["reason"]}
        if res.decision
        else None,
        "guards": [f"{g['guard']}:{g['reason']}" for g in res.guards if g["tripped"]],
        "handoff": (
            {k: dict(res.handoff)[k] for k in ("queue", "reason", "priority", "completeness", "missing")}
            if res.handoff
            else None
        ),
    }
    if factors and res.decision:
        view["factors"] = res.decision["factors"]
    return view


def build_report(
    *,
    engine: str,
    paths: Sequence[str],
    scores: Sequence[ScenarioScore],
    runs: Sequence[ScenarioRun],
    metrics: SuiteMetrics,
    gates: Sequence[GateResult],
    load_errors: Sequence[ScenarioError],
    run_info: RunInfo,
) -> dict[str, Any]:
    by_id = {r.id: r for r in runs}
    scenarios: list[dict[str, Any]] = []
    for s in scores:
        item = s.model_dump(mode="json")
        run = by_id.get(s.id)
        failing = {c.turn for c in s.failures if c.turn is not None}
        if run is not None:
            item["transcript"] = [turn_view(t, factors=t.turn in failing) for t in run.turns]
            if run.marketing is not None:
                item["marketing"] = run.marketing.model_dump(mode="json")
        scenarios.append(item)
    return {
        "version": REPORT_VERSION,
        "engine": engine,
        "paths": list(paths),
        "passed": all(g.ok for g in gates),
        "metrics": metrics.model_dump(mode="json"),
        "gates": [g.model_dump(mode="json") for g in gates],
        "load_errors": [{"path": e.path, "line": e.line, "message": e.message} for e in load_errors],
        "failed": [s.id for s in scores if s.status in {"fail", "error"}],
        "scenarios": scenarios,
        "run": run_info.model_dump(mode="json"),
    }


def write_report(report: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "report.json"
    html_path = directory / "report.html"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


# ---------------------------------------------------------------------- HTML

_CSS = "\n".join(
    [
        "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;",
        "margin:24px auto;max-width:1180px;",
        "color:#1d1d28;padding:0 16px}h1{font-size:22px;margin:0 0 4px}",
        "h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}",
        "h3{font-size:14px;margin:14px 0 6px}.muted{color:#666}.ok{color:#17803d}.bad{color:#b42318}",
        ".badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}",
        ".badge.ok{background:#17803d;color:#fff}.badge.bad{background:#b42318;color:#fff}",
        "table{border-collapse:collapse;margin:6px 0}",
        "td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}",
        "th{background:#f5f5fa}",
        ".num{text-align:right;font-variant-numeric:tabular-nums}",
        "details{border:1px solid #ddd;border-radius:6px;margin:8px 0;padding:6px 10px}",
        "summary{cursor:pointer;font-weight:600}.reply{white-space:pre-wrap}.fail-row{background:#fff1f0}",
        ".grid{display:flex;flex-wrap:wrap;gap:24px}code{background:#f3f3f7;padding:0 3px;border-radius:3px}",
    ]
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return str(value)


def _gate_bars(gates: Sequence[dict[str, Any]]) -> str:
    row_h, label_w, bar_w = 26, 230, 420
    height = row_h * len(gates) + 10
    width = label_w + bar_w + 150
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="metrics against gates">']
    for i, g in enumerate(gates):
        y = 6 + i * row_h
        value = g["value"]
        bound = g["min"] if g["min"] is not None else g["max"]
        scale = 1.0 if max(abs(value or 0), abs(bound or 0)) <= 1 else max(value or 0, bound or 0) * 1.25 or 1
        w = 0 if value is None else max(0.0, min(1.0, value / scale)) * bar_w
        color = "#17803d" if g["ok"] else "#b42318"
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(g["metric"])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="18" fill="#eee"/>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="18" fill="{color}"><title>'
            f"{escape(g['metric'])} = {_fmt(value)}</title></rect>"
        )
        for key, mark in (("min", "≥"), ("max", "≤")):
            if g[key] is not None:
                x = label_w + max(0.0, min(1.0, g[key] / scale)) * bar_w
                parts.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 3}" y2="{y + 21}" stroke="#1d1d28" '
                    f'stroke-width="2"><title>gate {mark} {_fmt(g[key])}</title></line>'
                )
        bounds = " ".join(f"{m}{_fmt(g[k])}" for k, m in (("min", "≥"), ("max", "≤")) if g[k] is not None)
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" font-size="12" fill="{color}">'
            f"{_fmt(value)} (gate {escape(bounds)})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _count_bars(counts: dict[str, int], *, color: str = "#6b5bd6") -> str:
    items = list(counts.items())
    top = max([v for _, v in items] + [1])
    row_h, label_w, bar_w = 22, 170, 320
    parts = [f'<svg width="{label_w + bar_w + 60}" height="{row_h * len(items) + 6}" role="img">']
    for i, (name, v) in enumerate(items):
        y = 4 + i * row_h
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(name)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{v / top * bar_w:.1f}" height="15" fill="{color}"/>'
        )
        parts.append(f'<text x="{label_w + v / top * bar_w + 6:.1f}" y="{y + 12}" font-size="12">{v}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trajectories(scenarios: Sequence[dict[str, Any]]) -> str:
    lines = [s for s in scenarios if len(s.get("trajectory") or []) >= 2]
    if not lines:
        return '<p class="muted">No conversation ran for two or more bot turns.</p>'
    longest = max(len(s["trajectory"]) for s in lines)
    w, h, pad = 640, 260, 34
    sx = (w - 2 * pad) / max(1, longest - 1)
    parts = [
        f'<svg width="{w}" height="{h}" role="img" aria-label="frustration by turn">',
        f'<rect x="{pad}" y="{pad // 2}" width="{w - 2 * pad}" height="{h - pad - pad // 2}" fill="#fafafe" '
        'stroke="#ddd"/>',
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        y = h - pad - tick * (h - pad - pad // 2)
        parts.append(f'<text x="2" y="{y + 4:.1f}" font-size="10">{tick}</text>')
        parts.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
    for i in range(longest):
        parts.append(f'<text x="{pad + i * sx - 3:.1f}" y="{h - pad + 14}" font-size="10">{i + 1}</text>')
    parts.append(f'<text x="{w // 2 - 40}" y="{h - 4}" font-size="11">bot turn</text>')
    for s in lines:
        pts = " ".join(
            f"{pad + i * sx:.1f},{h - pad - v * (h - pad - pad // 2):.1f}"
            for i, v in enumerate(s["trajectory"])
        )
        color = "#b42318" if s["status"] != "pass" else "#2f6fdb"
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-opacity="0.55" '
            f'stroke-width="1.5"><title>{escape(s["id"])}</title></polyline>'
        )
    parts.append("</svg>")
    return (
        "".join(parts) + '<p class="muted">Frustration (0–1) per bot turn; blue passed, red failed. '
        "Hover a line for its scenario.</p>"
    )


def _confusion(c: dict[str, Any], title: str) -> str:
    labels, matrix = c["labels"], c["matrix"]
    used = [i for i, name in enumerate(labels) if any(matrix[i]) or any(row[i] for row in matrix)]
    if not used:
        return f'<p class="muted">{escape(title)}: nothing to show.</p>'
    top = max(max(row) for row in matrix) or 1
    head = "".join(f"<th>{escape(labels[j])}</th>" for j in used)
    rows = []
    for i in used:
        cells = []
        for j in used:
            v = matrix[i][j]
            hue = "23,128,61" if i == j else "180,35,24"
            alpha = 0 if not v else 0.15 + 0.75 * v / top
            cells.append(f'<td class="num" style="background:rgba({hue},{alpha:.2f})">{v}</td>')
        rows.append(f"<tr><th>{escape(labels[i])}</th>{''.join(cells)}</tr>")
    return (
        f"<div><h3>{escape(title)}</h3><table><tr><th>expected ↓ / actual →</th>{head}</tr>"
        f"{''.join(rows)}</table></div>"
    )


def _metrics_table(m: dict[str, Any]) -> str:
    skip = {
        "action_confusion",
        "marketing_confusion",
        "breaches_by_kind",
        "failures_by_type",
        "scenarios_by_failure_type",
    }
    rows = "".join(
        f'<tr><td><code>{escape(k)}</code></td><td class="num">{escape(_fmt(v))}</td></tr>'
        for k, v in m.items()
        if k not in skip
    )
    return f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"


def _transcript(s: dict[str, Any]) -> str:
    failing = {c["turn"] for c in s["checks"] if not c["ok"] and c["turn"] is not None}
    rows = []
    for t in s.get("transcript", []):
        cls = ' class="fail-row"' if t["turn"] in failing else ""
        intent = f"{t['intent']['label']} {t['intent']['confidence']:.2f}" if t["intent"] else "–"
        sent = (
            f"{t['sentiment']['label']} f={t['sentiment']['frustration']:.2f} {t['sentiment']['trend']}"
            if t["sentiment"]
            else "–"
        )
        decision = f"{t['decision']['rule']} ({t['decision']['reason']})" if t["decision"] else "–"
        events = (
            f"<br><span class=muted>events: {escape(', '.join(t['events']))}</span>" if t["events"] else ""
        )
        guards = f"<br><span class=bad>guards: {escape(', '.join(t['guards']))}</span>" if t["guards"] else ""
        rows.append(
            f"<tr{cls}><td class=num>{t['turn']}</td><td>{escape(t['user'])}{events}</td>"
            f"<td><b>{escape(t['action'])}</b><br>{escape(decision)}{guards}</td><td>{escape(intent)}<br>{escape(sent)}</td>"
            f"<td class=reply>{escape(t['reply'] or '(silent)')}</td></tr>"
        )
        if "factors" in t:
            facts = "; ".join(
                f"{f['name']}={f['value']}" + ("" if f["effect"] == "considered" else f" → {f['effect']}")
                for f in t["factors"]
            )
            rows.append(
                f"<tr{cls}><td></td><td colspan=4 class=muted>factors at turn {t['turn']}: "
                f"{escape(facts)}</td></tr>"
            )
    if not rows:
        return ""
    return (
        "<table><tr><th>#</th><th>person</th><th>action</th><th>intent / sentiment</th><th>bot</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _failed(s: dict[str, Any]) -> str:
    checks = "".join(
        f"<li><b>{escape(c['category'])}</b> · {escape(c['name'])}"
        + (f" (turn {c['turn']})" if c["turn"] is not None else "")
        + f": expected {escape(c['expected'])}; got {escape(c['actual'])}</li>"
        for c in s["checks"]
        if not c["ok"]
    )
    catches = f"<p class=muted>Written to catch: {escape(s['catches'])}</p>" if s.get("catches") else ""
    body = _transcript(s)
    if s.get("marketing"):
        mk = s["marketing"]
        body += (
            f"<p>decision <b>{escape(mk['decision'])}</b> ({escape(mk['reason'])})</p>"
            f"<p class=reply>{escape(mk['message'] or '(no message)')}</p>"
        )
        body += (
            "<p class=muted>factors: "
            + escape("; ".join(f"{f.get('name')}={f.get('value')}" for f in mk["factors"]))
            + "</p>"
        )
    return (
        f"<details><summary>{escape(s['id'])} — {escape(s['title'])} "
        f"<span class=muted>({escape(s['path'])})</span></summary>{catches}<ul>{checks}</ul>{body}</details>"
    )


def _scenario_row(s: dict[str, Any]) -> str:
    status = "ok" if s["status"] == "pass" else "bad"
    failed = sum(1 for c in s["checks"] if not c["ok"])
    return (
        f"<tr><td>{escape(s['id'])}</td><td class={status}>{escape(s['status'])}</td>"
        f"<td>{escape(s['product'])}</td><td class=num>{_fmt(s.get('escalation_turn'))}</td>"
        f"<td class=num>{_fmt(s.get('expected_turn'))}</td><td class=num>{failed}</td>"
        f"<td>{escape(', '.join(s['tags']))}</td></tr>"
    )


def render_html(report: dict[str, Any]) -> str:
    m = report["metrics"]
    ok = report["passed"]
    scenarios = report["scenarios"]
    failed = [s for s in scenarios if s["status"] in {"fail", "error"}]
    errors = "".join(
        f"<li><code>{escape(e['path'])}{':' + str(e['line']) if e['line'] else ''}</code> "
        f"{escape(e['message'])}</li>"
        for e in report["load_errors"]
    )
    run = report["run"]
    none = "<p class=muted>None.</p>"
    badge = (
        '<span class="badge ok">gates passed</span>' if ok else '<span class="badge bad">gate failed</span>'
    )
    summary = (
        f"engine <b>{escape(report['engine'])}</b> · {m['scenarios']} scenarios: {m['passed']} passed, "
        f"{m['failed']} failed, {m['errors']} errors, {m['skipped']} skipped · "
        f"{len(report['load_errors'])} unreadable files · "
        f"{run['scenarios_per_s']:.1f} scenarios/s with {run['jobs']} job(s)"
    )
    head = (
        "<tr><th>id</th><th>status</th><th>product</th><th>escalated at</th><th>expected by</th>"
        "<th>failed checks</th><th>tags</th></tr>"
    )
    parts = [
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>tactful eval report</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>tactful eval report {badge}</h1>",
        f'<p class="muted">{summary}</p>',
        f"<h2>Metrics against gates</h2>{_gate_bars(report['gates'])}",
        '<div class="grid">',
        f"<div><h2>Failures by type</h2>{_count_bars(m['failures_by_type'], color='#b42318')}</div>",
        f"<div><h2>Policy breaches by kind</h2>{_count_bars(m['breaches_by_kind'] or {'none': 0})}</div>",
        "</div>",
        f"<h2>Sentiment trajectories</h2>{_trajectories(scenarios)}",
        '<h2>Expected vs actual</h2><div class="grid">',
        _confusion(m["action_confusion"], "Support actions (per turn)"),
        _confusion(m["marketing_confusion"], "Marketing decisions"),
        "</div>",
        f"<h2>All metrics</h2>{_metrics_table(m)}",
        f"<h2>Unreadable scenario files ({len(report['load_errors'])})</h2>",
        f"<ul>{errors}</ul>" if errors else none,
        f"<h2>Failed scenarios ({len(failed)})</h2>",
        "".join(_failed(s) for s in failed) or none,
        f"<h2>All scenarios</h2><table>{head}{''.join(_scenario_row(s) for s in scenarios)}</table>",
        "</body></html>\n",
    ]
    return "\n".join(parts)
