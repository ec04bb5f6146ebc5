"""The resident assistant: cited answers from the city's documents, reports filed as work orders."""

from agents.resident.graph import build_graph, thread
from agents.resident.nodes import ResidentDeps
from agents.resident.state import ChatMessage, ResidentState

__all__ = ["ChatMessage", "ResidentDeps", "ResidentState", "build_graph", "thread"]
