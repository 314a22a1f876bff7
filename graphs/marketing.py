"""The marketing graph: intake → assess → decide → (write → output_guard | rep_packet) → concierge → finish.

``intake`` validates the request at the input (a JSON request from a LangGraph client becomes a
:class:`MarketingRequest`, or the run fails at once naming the field). A run's ``context`` is JSON
(:class:`~tactful.agents.context.RunContext`: tenant, engine) resolved to the tenant's cached
:class:`MarketingContext`, or that context itself (the service, batch runs).

One table (:data:`NODES`, :data:`EDGES`) defines the flow. :func:`build_marketing_graph` compiles it into a
LangGraph ``StateGraph`` (exported as :data:`graph` for ``langgraph.json``); :func:`run_direct` walks the same
table in-process without the graph runtime, which is what batch runs use on the offline engine (LangGraph's
per-step bookkeeping costs more than the decision itself). A test keeps both paths' decisions equal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from pydantic import ValidationError
from typing_extensions import TypedDict

from tactful.agents.context import RunContext
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
from tactful.errors import InputError
from tactful.graphs.context import build_context, run_context
from tactful.settings import get_settings

Node = Callable[[MarketingState, MarketingContext], Awaitable[dict[str, object]]]
Router = Callable[[MarketingState], str]



class MarketingInput(TypedDict):
    """A run's input: ``{"request": {...}}`` — one person, their events and a campaign (validated by ``intake``)."""

    request: MarketingRequest


class MarketingOutput(TypedDict):
    """A run's output: the decision (action, reason code, factors; the message, rep packet or alert)."""

    decision: MarketingDecision


async def intake_node(state: MarketingState, ctx: MarketingContext) -> dict[str, object]:
    """Validate the request at the input: a JSON request becomes a :class:`MarketingRequest`."""
    request: object = state.get("request")
    if isinstance(request, MarketingRequest):
        return {}
    try:
        return {"request": MarketingRequest.model_validate(request)}
    except ValidationError as exc:
        errors = exc.errors()
        shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise InputError(f"invalid marketing request: {shown}{more}") from exc


NODES: dict[str, Node] = {
    "intake": intake_node,
    "assess": assess_node,
    "decide": decide_node,
    "write": write_node,
    "output_guard": output_guard_node,
    "rep_packet": rep_packet_node,
    "concierge": concierge_node,
    "finish": finish_node,
}
EDGES: dict[str, str | tuple[Router, tuple[str, ...]]] = {
    START: "intake",
    "intake": "assess",
    "assess": "decide",
    "decide": (after_decide, ("write", "rep_packet", "concierge")),
    "write": "output_guard",
    "output_guard": "concierge",
    "rep_packet": "concierge",
    "concierge": "finish",
    "finish": END,
}

_contexts: dict[RunContext, MarketingContext] = {}


def _build_for(run: RunContext) -> MarketingContext:
    settings = get_settings()
    if run.engine is not None and run.engine != settings.engine:
        settings = settings.model_copy(update={"engine": run.engine})
    support = build_context(settings, tenant=run.tenant)  # the copy goes through the support engine
    return build_marketing_context(settings, tenant=run.tenant, engine=support.engine, offline=support.offline)


async def resolve_marketing_context(value: object) -> MarketingContext:
    """The live context for a run: a :class:`MarketingContext` as given; otherwise the tenant's cached one for
    the run's JSON context, built off the event loop the first time."""
    if isinstance(value, MarketingContext):
        return value
    run = run_context(value)
    hit = _contexts.get(run)
    if hit is None:
        hit = _contexts.setdefault(run, await asyncio.to_thread(_build_for, run))
    return hit


def _graph_node(
    name: str, fn: Node
) -> Callable[[MarketingState, Runtime[Any]], Awaitable[dict[str, object]]]:
    async def node(state: MarketingState, runtime: Runtime[Any]) -> dict[str, object]:
        return await fn(state, await resolve_marketing_context(runtime.context))

    node.__name__ = name
    node.__doc__ = fn.__doc__
    return node


MarketingGraph = CompiledStateGraph[MarketingState, Any, MarketingInput, MarketingOutput]


def build_marketing_graph() -> StateGraph[MarketingState, Any, MarketingInput, MarketingOutput]:
    g: StateGraph[MarketingState, Any, MarketingInput, MarketingOutput] = StateGraph(
        MarketingState, context_schema=RunContext, input_schema=MarketingInput, output_schema=MarketingOutput
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


def compile_marketing_graph() -> MarketingGraph:
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
