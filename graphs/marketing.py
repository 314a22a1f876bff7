"""The marketing graph: assess → decide → (write → output_guard | rep_packet) → concierge → finish.

One table (:data:`NODES`, :data:`EDGES`) defines the flow. :func:`build_marketing_graph` compiles it into a
LangGraph ``StateGraph`` (exported as :data:`graph` for ``langgraph.json``); :func:`run_direct` walks the same
table in-process without the graph runtime, which is what batch runs use on the offline engine (LangGraph's
per-step bookkeeping costs more than the decision itself). A test keeps both paths' decisions equal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from tactful.agents.marketing.context import MarketingContext, build_marketing_context
from tactful.agents.marketing.models import MarketingDecision, MarketingRequest
from tactful.agents.marketing.nodes import (
    after_decide,
    assess_node,
    concierge_node,
    decide_node,
    finish_node,
    output_guard_node,
    rep_packet_node,
    write_node,
)
from tactful.agents.marketing.state import MarketingState
from tactful.graphs.context import build_context
from tactful.settings import get_settings

Node = Callable[[MarketingState, MarketingContext], Awaitable[dict[str, object]]]
Router = Callable[[MarketingState], str]

NODES: dict[str, Node] = {
    "assess": assess_node,
    "decide": decide_node,
    "write": write_node,
    "output_guard": output_guard_node,
    "rep_packet": rep_packet_node,
    "concierge": concierge_node,
    "finish": finish_node,
}
EDGES: dict[str, str | tuple[Router, tuple[str, ...]]] = {
    START: "assess",
    "assess": "decide",
    "decide": (after_decide, ("write", "rep_packet", "concierge")),
    "write": "output_guard",
    "output_guard": "concierge",
    "rep_packet": "concierge",
    "concierge": "finish",
    "finish": END,
}

_default_context: MarketingContext | None = None


def default_context() -> MarketingContext:
    """Context for runs that bring none (``langgraph dev``): the default tenant from the environment's
    settings."""
    global _default_context
    if _default_context is None:
        settings = get_settings()
        support = build_context(settings)
        _default_context = build_marketing_context(settings, engine=support.engine, offline=support.offline)
    return _default_context


def _graph_node(
    name: str, fn: Node
) -> Callable[[MarketingState, Runtime[MarketingContext]], Awaitable[dict[str, object]]]:
    async def node(state: MarketingState, runtime: Runtime[MarketingContext]) -> dict[str, object]:
        ctx = runtime.context if isinstance(runtime.context, MarketingContext) else default_context()
        return await fn(state, ctx)

    node.__name__ = name
    node.__doc__ = fn.__doc__
    return node


def build_marketing_graph() -> StateGraph[MarketingState, MarketingContext, MarketingState, MarketingState]:
    g: StateGraph[MarketingState, MarketingContext, MarketingState, MarketingState] = StateGraph(
        MarketingState, context_schema=MarketingContext
    )
    for name, fn in NODES.items():
        node: Any = _graph_node(name, fn)
        g.add_node(name, node)
    for source, target in EDGES.items():
        if isinstance(target, str):
            g.add_edge(source, target)
        else:
            router, paths = target
            g.add_conditional_edges(source, router, list(paths))
    return g


def compile_marketing_graph() -> CompiledStateGraph[
    MarketingState, MarketingContext, MarketingState, MarketingState
]:
    return build_marketing_graph().compile(name="marketing")


graph = compile_marketing_graph()


async def run_direct(request: MarketingRequest, ctx: MarketingContext) -> MarketingDecision:
    """Walk :data:`EDGES` in-process: the same nodes, routers and order as the compiled graph."""
    state: MarketingState = {"request": request}
    step = EDGES[START]
    assert isinstance(step, str)
    current = step
    while current != END:
        update = await NODES[current](state, ctx)
        state.update(update)  # type: ignore[typeddict-item]
        nxt = EDGES[current]
        current = nxt if isinstance(nxt, str) else nxt[0](state)
    return state["decision"]


async def run_graph(request: MarketingRequest, ctx: MarketingContext) -> MarketingDecision:
    """One decision through the compiled LangGraph graph."""
    final: dict[str, Any] = await graph.ainvoke({"request": request}, context=ctx)
    decision = final["decision"]
    assert isinstance(decision, MarketingDecision)
    return decision
