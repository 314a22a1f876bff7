"""The support graph: ingest → input guards → intent ‖ sentiment → policy → decision guards → responder →
output guard → reply, where every guard can halt the turn into the handoff summarizer, and a handed-off
conversation waits in ``human`` (an ``interrupt()``) until a person answers or returns it to the bot.

A run's ``context`` is JSON (:class:`~tactful.agents.context.RunContext`: tenant, engine) or, from the service,
the live :class:`~tactful.agents.context.TurnContext`; every node sees the resolved, cached TurnContext.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.types import Checkpointer, Command
from typing_extensions import TypedDict

from tactful.agents.archive import archive_turn, graph_thread_id
from tactful.agents.context import RunContext, TurnContext
from tactful.agents.guards.nodes import (
    after_decision_guard,
    after_input_guard,
    after_output_guard,
    decision_guard_node,
    input_guard_node,
    output_guard_node,
)
from tactful.agents.handoff.human import after_human, human_node
from tactful.agents.handoff.node import handoff_node
from tactful.agents.intent.node import intent_node
from tactful.agents.policy.checker import policy_node
from tactful.agents.responder.node import after_responder, responder_node
from tactful.agents.sentiment.node import sentiment_node
from tactful.agents.state import (
    AccountContext,
    DecisionState,
    Event,
    GuardVerdict,
    HandoffPacket,
    IntentState,
    Message,
    Mode,
    SentimentState,
    SupportAction,
    SupportState,
    Usage,
    add_usage,
)
from tactful.graphs.context import resolve_context


class ChatMessageIn(TypedDict, total=False):
    """A message as LangGraph tooling sends it: ``{"role": "user", "content": "..."}`` (also ``type``
    ``human`` and content blocks, or a ``HumanMessage``), or the transcript's own ``{"role", "text"}``."""

    role: str
    type: str
    content: str | list[dict[str, str]]
    text: str
    id: str


class SupportInput(TypedDict, total=False):
    """One turn's input: the customer's message, and optionally what the front end knows and behavioural events
    that came with it (``new_events``: folded in and stamped with the turn)."""

    messages: list[ChatMessageIn | Message]
    conversation_id: str
    context: AccountContext
    new_events: list[Event]


class SupportOutput(TypedDict, total=False):
    """What a turn leaves for its caller: the reply (or handoff notice), the mode, the decision with its
    factors, intent, sentiment, guard verdicts, the handoff packet, the transcript."""

    conversation_id: str
    turn: int
    mode: Mode
    reply: str
    last_action: SupportAction | None
    decision: DecisionState | None
    intent: IntentState | None
    sentiment: SentimentState | None
    guards: list[GuardVerdict]
    handoff: HandoffPacket | None
    messages: list[Message]
    usage: Usage
    degraded: bool


SupportGraph = CompiledStateGraph[SupportState, Any, SupportInput, SupportOutput]
Node = Callable[[SupportState, Runtime[TurnContext]], Awaitable[dict[str, object]]]


def _resolved(fn: Node) -> Any:
    """``fn`` run with the run's context resolved to the cached :class:`TurnContext` (typed ``Any``: LangGraph's
    node protocols cannot name a wrapper's signature)."""

    async def node(state: SupportState, runtime: Runtime[Any]) -> dict[str, object]:
        ctx = runtime.context if isinstance(runtime.context, TurnContext) else await resolve_context(runtime.context)
        return await fn(state, runtime.override(context=ctx))

    node.__name__ = fn.__name__
    node.__doc__ = fn.__doc__
    return node


async def ingest_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    """Start a turn: count it, fold in the events that came with it, clear last turn's per-turn fields."""
    turn = state.get("turn", 0) + 1
    # Stamp each arriving event with its turn so the sentiment reasoner can let it fade over later turns.
    new_events = [{**e, "detail": {**e.get("detail", {}), "turn": turn}} for e in state.get("new_events", [])]
    update: dict[str, object] = {
        "turn": turn,
        "events": new_events,
        "guards": None,
        "usage": None,
        "halted": False,
        "draft": "",
        "reply": "",
        "degraded": None,
        "new_events": new_events,
        "mode": state.get("mode", "bot"),
    }
    if not state.get("conversation_id"):
        # A LangGraph server thread: the thread is the conversation.
        update["conversation_id"] = graph_thread_id()
    return update


def after_ingest(state: SupportState) -> str:
    return "human" if state.get("mode") == "human" else "input_guards"


async def finish_node(state: SupportState, runtime: Runtime[Any]) -> dict[str, object]:
    """Close the turn: add this turn's usage to the conversation's total; with a store, append what the turn
    added to the transcript, ``tried`` and the guard log to the archive and trim them to their windows."""
    update: dict[str, object] = {"usage_total": add_usage(state.get("usage_total"), state.get("usage"))}
    if state.get("draft"):
        update["draft"] = ""  # released as ``reply``: not checkpointed twice
    if runtime.store is not None:
        update.update(await archive_turn(runtime.store, graph_thread_id(), state))
    return update


def after_finish(state: SupportState) -> str:
    return "human" if state.get("mode") == "human" else END


NodeWrap = Callable[[str, Any], Any]
Route = Callable[[SupportState], str | list[str]]


def _async_route(route: Route) -> Callable[[SupportState], Awaitable[str | list[str]]]:
    """A routing function as a coroutine: LangGraph runs a plain function in a worker thread (a thread hop per
    edge); these are cheap and never block."""

    async def routed(state: SupportState) -> str | list[str]:
        return route(state)

    routed.__name__ = route.__name__
    routed.__doc__ = route.__doc__
    return routed


def _reducers(schema: type) -> dict[str, Callable[[Any, Any], Any]]:
    """Each field's reducer (``Annotated[T, reducer]``), as LangGraph reads them off the state schema."""
    out: dict[str, Callable[[Any, Any], Any]] = {}
    for key, hint in get_type_hints(schema, include_extras=True).items():
        if get_origin(hint) is Annotated:
            fns = [m for m in get_args(hint)[1:] if callable(m)]
            if fns:
                out[key] = fns[-1]
    return out


REDUCERS = _reducers(SupportState)


def after_update(state: Mapping[str, Any], update: Mapping[str, Any] | None) -> dict[str, Any]:
    """The state as the node's own writes leave it (each written field through its reducer, as a
    conditional edge's fresh read of the channels would show it): what a routing function reads."""
    view = dict(state)
    for key, value in (update or {}).items():
        reducer = REDUCERS.get(key)
        view[key] = reducer(state[key], value) if reducer is not None and key in state else value
    return view


def _routed(fn: Any, route: Route) -> Any:
    """``fn`` that routes itself: it returns ``Command(update=..., goto=route(state after its writes))`` in place
    of a conditional edge. Same destinations, same writes (``branch:to:<node>``), but LangGraph no longer
    copies every channel for the edge's fresh read nor runs the routing function as a traced runnable."""

    async def node(state: SupportState, runtime: Runtime[Any]) -> Command[str]:
        update = await fn(state, runtime)
        return Command(update=update, goto=route(after_update(state, update)))  # type: ignore[arg-type]

    node.__name__ = fn.__name__
    node.__doc__ = fn.__doc__
    return node


def build_support_graph(
    *, wrap: NodeWrap | None = None
) -> StateGraph[SupportState, Any, SupportInput, SupportOutput]:
    """The support graph's builder; ``wrap(name, node)``, when given, replaces each node (the bench times the
    specialists inside the graph with it)."""
    g: StateGraph[SupportState, Any, SupportInput, SupportOutput] = StateGraph(
        SupportState, context_schema=RunContext, input_schema=SupportInput, output_schema=SupportOutput
    )

    def add(name: str, node: Any, route: Route | None = None, ends: tuple[str, ...] = ()) -> None:
        # Routing happens inside the node (a ``Command``), under the wrap, so a wrapped node is timed as before
        # and ``destinations`` keeps the drawn graph (README's diagram) as the conditional edges drew it.
        body = wrap(name, node) if wrap else node
        if route is None:
            g.add_node(name, body)
        else:
            g.add_node(name, _routed(body, route), destinations=ends)

    add("ingest", _resolved(ingest_node), after_ingest, ("input_guards", "human"))
    add("input_guards", _resolved(input_guard_node), after_input_guard, ("intent", "sentiment", "responder", "handoff"))
    add("intent", _resolved(intent_node))
    add("sentiment", _resolved(sentiment_node))
    add("policy", _resolved(policy_node))
    add("decision_guards", _resolved(decision_guard_node), after_decision_guard, ("responder", "handoff"))
    add("responder", _resolved(responder_node), after_responder, ("output_guard", "handoff"))
    add("output_guard", _resolved(output_guard_node), after_output_guard, ("handoff", "finish"))
    add("handoff", _resolved(handoff_node))
    add("finish", finish_node)
    add("human", _resolved(human_node))

    g.add_edge(START, "ingest")
    g.add_edge(["intent", "sentiment"], "policy")
    g.add_edge("policy", "decision_guards")
    g.add_edge("handoff", "finish")
    # ``finish`` and ``human`` keep their conditional edges: the service writes into a conversation with
    # ``aupdate_state(..., as_node="finish" | "human")``, and only an edge routes after such an update.
    g.add_conditional_edges("finish", _async_route(after_finish), ["human", END])
    g.add_conditional_edges("human", _async_route(after_human), ["human", END])
    return g


def compile_support_graph(checkpointer: Checkpointer = None, *, store: BaseStore | None = None) -> SupportGraph:
    """The compiled support graph; with a ``store``, the growing lists live in its archive
    (:mod:`tactful.agents.archive`) and the checkpoints keep only their windows."""
    return build_support_graph().compile(checkpointer=checkpointer, store=store, name="support")
