"""The dispatch agent: enrich a new order, propose, let a caseworker review, dispatch."""

from agents.dispatch.graph import build_graph, thread
from agents.dispatch.nodes import DispatchDeps, ReviewError, validate_decision

__all__ = ["DispatchDeps", "ReviewError", "build_graph", "thread", "validate_decision"]
