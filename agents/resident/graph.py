"""The resident graph: screen → (retrieve → answer | report | status | fixed) → finish.

One thread per conversation.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agents.resident.nodes import ResidentDeps, ResidentNodes
from agents.resident.state import ResidentState


def build_graph(deps: ResidentDeps, checkpointer: BaseCheckpointSaver[Any] | None) -> Any:
    """The compiled graph; each turn is one run with ``{"text": message, "thread": id}``."""
    nodes = ResidentNodes(deps)
    builder = StateGraph(ResidentState)
    builder.add_node("screen", nodes.screen)
    builder.add_node("retrieve", nodes.retrieve)
    builder.add_node("answer", nodes.answer)
    builder.add_node("report", nodes.report)
    builder.add_node("status", nodes.status)
    builder.add_node("fixed", nodes.fixed)
    builder.add_node("match", nodes.match)
    builder.add_node("finish", nodes.finish)
    builder.add_edge(START, "screen")
    builder.add_conditional_edges(
        "screen",
        nodes.branch,
        {"retrieve": "retrieve", "report": "report", "status": "status", "fixed": "fixed", "match": "match"},
    )
    builder.add_edge("retrieve", "answer")
    for name in ("answer", "report", "status", "fixed", "match"):
        builder.add_edge(name, "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer)


def thread(conversation: str) -> dict[str, Any]:
    """The run configuration of a conversation."""
    return {"configurable": {"thread_id": conversation}}
