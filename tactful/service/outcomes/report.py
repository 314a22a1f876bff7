"""``tactful report``'s page: the metrics summary as one self-contained HTML file (inline CSS and SVG charts,
nothing fetched from anywhere): headline figures, the trend over days, figures by intent and by queue, failures
by type, people's labels and, when the tenant runs one, the shadow policy's divergence."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from tactful.service.outcomes.models import Figures, MetricsSummary

CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#1d1d28;margin:2rem auto;max-width:1100px;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.6rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}.card b{display:block;font-size:1.35rem}
.card span{color:#4a5561;font-size:.8rem}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:right;padding:.25rem .5rem;border-bottom:1px solid #eee}th:first-child,td:first-child{text-align:left}
svg text{font-size:11px;fill:#1d1d28}.legend span{display:inline-block;margin-right:1rem}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
"""
SERIES = (
    ("containment_without_regret", "#17803d"),
    ("escalation_rate", "#b42318"),
    ("escalation_precision", "#6b5bd6"),
)
HEADLINE = (
    ("conversations", "conversations"),
    ("containment_without_regret", "contained without regret"),
    ("escalation_rate", "escalation rate"),
    ("escalation_precision", "escalation precision (people's labels)"),
    ("handoff_completeness", "handoff completeness"),
    ("first_reply_s_median", "median time to first human reply"),
    ("resolution_s_median", "median time to resolution"),
    ("negative_recovery", "negative-sentiment recovery"),
    ("restatements_per_conversation", "restatements per conversation"),
    ("human_request_rate", "asked for a person"),
    ("rating_mean", "mean customer rating"),
    ("post_handoff_rating_mean", "rating after a handoff"),
)
COLUMNS = (
    ("conversations", "conv."),
    ("containment_without_regret", "contained w/o regret"),
    ("escalation_rate", "escalated"),
    ("escalation_precision", "precision"),
    ("handoff_completeness", "completeness"),
    ("resolution_s_median", "s to resolve"),
    ("human_request_rate", "asked for person"),
    ("rating_mean", "rating"),
)


def fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _headline_value(name: str, value: object) -> str:
    if name.endswith("_s_median") and isinstance(value, (int, float)):
        return duration(float(value))
    if name in ("rating_mean", "post_handoff_rating_mean", "restatements_per_conversation") and value is not None:
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    return fmt(value)


def trend_chart(days: dict[str, Figures]) -> str:
    """Lines of the three ratios by day, with the day's conversations as bars behind them."""
    names = sorted(days)
    width, height, left, bottom, top = 900, 240, 40, 30, 10
    plot_w, plot_h = width - left - 10, height - top - bottom
    if not names:
        return "<p>No conversations in the window.</p>"
    step = plot_w / max(1, len(names))
    most = max(days[d].conversations for d in names) or 1
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="trend by day">']
    for v in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - v)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{v:.0%}</text>')
    for i, day in enumerate(names):
        h = plot_h * days[day].conversations / most * 0.6
        x = left + i * step
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="#e8e6f7"><title>{escape(day)}: {days[day].conversations} conversations</title></rect>'
        )
        if i % max(1, len(names) // 8) == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle">{escape(day[5:])}</text>'
            )
    for name, color in SERIES:
        points = [
            (left + i * step + step / 2, top + plot_h * (1 - float(v)))
            for i, d in enumerate(names)
            if (v := getattr(days[d], name)) is not None
        ]
        if points:
            path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(points))
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"><title>{name}</title></path>')
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in points)
    parts.append("</svg>")
    legend = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{escape(n.replace("_", " "))}</span>' for n, c in SERIES
    )
    return (
        "".join(parts) + f'<p class="legend">{legend}<span><i class="sw" style="background:#e8e6f7"></i>'
        "conversations</span></p>"
    )


def bar_chart(values: Sequence[tuple[str, float]], *, ratio: bool, label: str) -> str:
    if not values:
        return "<p>None.</p>"
    row, label_w, bar_w = 22, 190, 480
    top = 1.0 if ratio else max(v for _, v in values) or 1.0
    parts = [
        f'<svg viewBox="0 0 {label_w + bar_w + 80} {row * len(values) + 6}" width="100%" role="img" '
        f'aria-label="{escape(label)}">'
    ]
    for i, (name, v) in enumerate(values):
        y = 3 + i * row
        w = bar_w * max(0.0, v) / top
        shown = f"{v:.0%}" if ratio else f"{v:,.0f}"
        parts.append(f'<text x="0" y="{y + 13}">{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="15" fill="#f1f1f4"/>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="15" fill="#6b5bd6">'
            f"<title>{escape(name)}: {shown}</title></rect>"
        )
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 12}">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


def table(groups: dict[str, Figures], heading: str) -> str:
    head = "".join(f"<th>{escape(t)}</th>" for _, t in COLUMNS)
    rows = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{fmt(getattr(f, c))}</td>" for c, _ in COLUMNS) + "</tr>"
        for name, f in sorted(groups.items(), key=lambda kv: -kv[1].conversations)
    )
    return f"<table><thead><tr><th>{escape(heading)}</th>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_html(summary: MetricsSummary, *, title: str = "tactful outcomes") -> str:
    t = summary.totals
    cards = "".join(
        f'<div class="card"><b>{_headline_value(n, getattr(t, n))}</b><span>{escape(text)}</span></div>'
        for n, text in HEADLINE
    )
    by_intent = sorted(summary.by_intent.items(), key=lambda kv: -kv[1].conversations)[:20]
    by_queue = sorted(summary.by_queue.items(), key=lambda kv: -kv[1].conversations)
    esc_by_intent = [(n, f.escalation_rate or 0.0) for n, f in by_intent]
    queue_volume = [(n, float(f.conversations)) for n, f in by_queue]
    failures = sorted(t.failures.items(), key=lambda kv: -kv[1])
    sh = summary.shadow
    shadow = "<p>No shadow policy ran in this window.</p>"
    if sh.turns:
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in sh.divergence.items())
        ends = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in sh.diverging_outcomes.items())
        shadow = (
            f"<p>Shadow policy <code>{escape(sh.policy_version or '')}</code>: {sh.diverging_turns} of {sh.turns} "
            f"turns ({fmt(sh.diverging_turns / sh.turns)}) in {sh.diverging_conversations} conversations would have "
            "gone another way.</p>"
            f"<table><thead><tr><th>live → shadow</th><th>turns</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<h3>How the diverging conversations ended</h3><table><thead><tr><th>outcome</th><th>conversations</th>"
            f"</tr></thead><tbody>{ends}</tbody></table>"
        )
    note = " (truncated: the window holds more conversations than one report reads)" if summary.truncated else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · {escape(summary.tenant)}</title><style>{CSS}</style></head><body>
<h1>{escape(title)} — tenant {escape(summary.tenant)}</h1>
<p>Conversations started from {escape(summary.since[:16])} to {escape(summary.until[:16])} UTC
({summary.window_days:g} days){note}. A conversation is contained when the bot closed it without a handoff, and
contained <em>without regret</em> when the same account did not come back within 72 hours.</p>
<div class="cards">{cards}</div>
<h2>Trend over days</h2>{trend_chart(summary.by_day)}
<h2>Escalation rate by intent</h2>{bar_chart(esc_by_intent, ratio=True, label="escalation rate by intent")}
<h2>Conversations by queue</h2>{bar_chart(queue_volume, ratio=False, label="conversations by queue")}
<h2>Failures by type</h2>{bar_chart([(k, float(v)) for k, v in failures], ratio=False, label="failures by type")}
<h2>People's labels on handoffs</h2>
{bar_chart([(k, float(v)) for k, v in summary.labels.items()], ratio=False, label="labels")}
<h2>Shadow policy</h2>{shadow}
<h2>By intent</h2>{table(summary.by_intent, "intent")}
<h2>By queue</h2>{table(summary.by_queue, "queue")}
</body></html>
"""
