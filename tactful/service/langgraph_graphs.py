"""Module-level compiled graphs for LangGraph's own tooling (``langgraph dev``, LangGraph Server, Studio),
named in ``langgraph.json``.

Compiled without a checkpointer: the LangGraph server brings its own. A run's ``context`` is JSON —
``{"tenant": "acme", "engine": "offline"}``, both optional — and resolves to the tenant's cached resources.
Settings come from the environment (and ``.env``) as for ``tactful serve``. The service itself compiles the
support graph with its durable checkpointer (``tactful.service.app``). See docs/langgraph.md.
"""

from __future__ import annotations

from tactful.graphs.marketing import graph as marketing
from tactful.graphs.support import compile_support_graph
from tactful.graphs.tracing import install_trace_masking
from tactful.settings import get_settings

install_trace_masking(get_settings())  # LangSmith traces (when on) masked like the packet
support = compile_support_graph()

__all__ = ["marketing", "support"]
