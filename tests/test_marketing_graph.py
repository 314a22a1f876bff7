"""The marketing graph: its drawing in the docs is the compiled graph's own, and it runs without a context."""

from __future__ import annotations

import re

from tactful.graphs.marketing import EDGES, NODES, compile_marketing_graph, graph
from tests import REPO_ROOT
from tests.marketing_helpers import request


def _drawing() -> str:
    compiled = compile_marketing_graph().get_graph().draw_mermaid()
    return compiled[compiled.index("graph TD;") :].strip()


def test_docs_mermaid_matches_the_compiled_marketing_graph() -> None:
    docs = (REPO_ROOT / "docs" / "marketing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", docs, flags=re.S)
    assert blocks and blocks[0].strip() == _drawing()


def test_every_node_is_wired_and_reaches_finish() -> None:
    targets = {t for t in EDGES.values() if isinstance(t, str)}
    targets |= {p for t in EDGES.values() if not isinstance(t, str) for p in t[1]}
    assert set(NODES) <= targets
    assert "finish -> __end__" in " ".join(f"{k} -> {v}" for k, v in EDGES.items() if isinstance(v, str))


async def test_the_exported_graph_runs_with_the_default_context() -> None:
    final = await graph.ainvoke({"request": request()})
    assert final["decision"].action == "send"
