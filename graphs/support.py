"""The support graph: ingest → input guards → intent ‖ sentiment → policy → decision guards → responder →
output guard → reply, where every guard can halt the turn into the handoff summarizer."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from tactful.agents.context import TurnContext
from tactful.agents.guards.nodes import (
    after_decision_guard,
    after_input_guard,
    after_output_guard,
    decision_guard_node,
    input_guard_node,
    output_guard_node,
)
from tactful.agents.handoff.node import handoff_node
from tactful.agents.intent.node import intent_node
from tactful.agents.policy.checker import policy_node
from tactful.agents.responder.node import after_responder, responder_node
from tactful.agents.sentiment.node import sentiment_node
from tactful.agents.state import SupportState, add_usage


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
        update["conversation_id"] = ""
    return update


def after_ingest(state: SupportState) -> str:
    return END if state.get("mode") == "human" else "input_guards"


async def finish_node(state: SupportState) -> dict[str, object]:
    """Close the turn: add this turn's usage to the conversation's total."""
    return {"usage_total": add_usage(state.get("usage_total"), state.get("usage"))}


def build_support_graph() -> StateGraph[SupportState, TurnContext, SupportState, SupportState]:
    g: StateGraph[SupportState, TurnContext, SupportState, SupportState] = StateGraph(
        SupportState, context_schema=TurnContext
    )
    g.add_node("ingest", ingest_node)
    g.add_node("input_guards", input_guard_node)
    g.add_node("intent", intent_node)
    g.add_node("sentiment", sentiment_node)
    g.add_node("policy", policy_node)
    g.add_node("decision_guards", decision_guard_node)
    g.add_node("responder", responder_node)
    g.add_node("output_guard", output_guard_node)
    g.add_node("handoff", handoff_node)
    g.add_node("finish", finish_node)

    g.add_edge(START, "ingest")
    g.add_conditional_edges("ingest", after_ingest, ["input_guards", END])
    g.add_conditional_edges("input_guards", after_input_guard, ["intent", "sentiment", "responder", "handoff"])
    g.add_edge(["intent", "sentiment"], "policy")
    g.add_edge("policy", "decision_guards")
    g.add_conditional_edges("decision_guards", after_decision_guard, ["responder", "handoff"])
    g.add_conditional_edges("responder", after_responder, ["output_guard", "handoff"])
    g.add_conditional_edges("output_guard", after_output_guard, ["handoff", "finish"])
    g.add_edge("handoff", "finish")
    g.add_edge("finish", END)
    return g


def compile_support_graph(
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[SupportState, TurnContext, SupportState, SupportState]:
    return build_support_graph().compile(checkpointer=checkpointer, name="support")
