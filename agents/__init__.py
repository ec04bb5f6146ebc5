"""LangGraph agents: one sub-package per agent (state, prompts, nodes, graph)."""

from tools import offline as _offline

_offline.apply()
