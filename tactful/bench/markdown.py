"""Markdown pieces the sections' summaries are written with: values, tables, profile lines."""

from __future__ import annotations

from typing import Any

from tactful.bench.common import JSON


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def profile_lines(prof: JSON, *, key_self: str, key_pkg: str, top: int = 8) -> list[str]:
    """A profile's top packages and functions by share, one line each."""
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
