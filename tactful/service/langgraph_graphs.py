"""Module-level compiled graphs for LangGraph's own tooling, named in ``langgraph.json``.

Compiled without a checkpointer: the LangGraph server brings its own. The service itself compiles the support
graph with its durable checkpointer (``tactful.service.app``).
"""

from __future__ import annotations

from tactful.graphs.marketing import graph as marketing
from tactful.graphs.support import compile_support_graph

support = compile_support_graph()

__all__ = ["marketing", "support"]
