"""The dispatch graph: enrich → adjudicate → (auto | review) → apply, checkpointed per ticket."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agents.dispatch.nodes import DispatchDeps, DispatchNodes
from agents.dispatch.state import DispatchState


def build_graph(deps: DispatchDeps, checkpointer: BaseCheckpointSaver[Any] | None) -> Any:
    """The compiled graph; the thread id of a run is the order's ticket."""
    nodes = DispatchNodes(deps)
    builder = StateGraph(DispatchState)
    builder.add_node("enrich", nodes.enrich)
    builder.add_node("adjudicate", nodes.adjudicate)
    builder.add_node("auto", nodes.auto)
    builder.add_node("review", nodes.review)
    builder.add_node("apply", nodes.apply)
    builder.add_edge(START, "enrich")
    builder.add_edge("enrich", "adjudicate")
    builder.add_conditional_edges("adjudicate", nodes.route, {"auto": "auto", "review": "review"})
    builder.add_edge("auto", "apply")
    builder.add_edge("review", "apply")
    builder.add_edge("apply", END)
    return builder.compile(checkpointer=checkpointer)


def thread(ticket: str) -> dict[str, Any]:
    """The run configuration of an order."""
    return {"configurable": {"thread_id": ticket}}
