"""``langgraph.json`` names the support and marketing graphs; each loads the way LangGraph's tooling loads it
(a file path and an attribute, imported with the repository on the path)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from langgraph.pregel import Pregel

REPO = Path(__file__).resolve().parent.parent
CONFIG = json.loads((REPO / "langgraph.json").read_text(encoding="utf-8"))


def load_graph(spec: str) -> object:
    path, _, attr = spec.partition(":")
    file = (REPO / path).resolve()
    assert file.is_file(), f"{spec}: no such file"
    module_spec = importlib.util.spec_from_file_location(f"langgraph_json_{file.stem}", file)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(REPO))
    try:
        module_spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO))
    return getattr(module, attr)


def test_langgraph_json_names_both_graphs() -> None:
    assert set(CONFIG["graphs"]) == {"support", "marketing"}
    assert CONFIG["dependencies"] == ["."]


@pytest.mark.parametrize(
    ("name", "nodes"),
    [
        (
            "support",
            {"ingest", "input_guards", "intent", "sentiment", "policy", "responder", "handoff", "finish"},
        ),
        ("marketing", {"assess", "decide", "write", "output_guard", "rep_packet", "concierge", "finish"}),
    ],
)
def test_each_graph_loads_through_langgraph_json(name: str, nodes: set[str]) -> None:
    graph = load_graph(CONFIG["graphs"][name])
    assert isinstance(graph, Pregel)
    assert nodes <= set(graph.get_graph().nodes)
    assert graph.checkpointer is None  # the LangGraph server brings its own
