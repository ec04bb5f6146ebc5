"""What a resident conversation carries (JSON-able: it is checkpointed per thread)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from agents.resident.intents import Route
from agents.resident.report import Draft


class ChatMessage(TypedDict, total=False):
    """One message of the conversation as the resident sees it (personal data masked)."""

    role: Literal["user", "assistant"]
    content: str
    route: str
    citations: list[dict[str, Any]]
    ticket: str
    notice: str


class ResidentState(TypedDict, total=False):
    """The conversation (``messages``, ``draft``, ``tickets`` persist) and this turn's working fields."""

    messages: Annotated[list[ChatMessage], operator.add]
    draft: Draft | None
    tickets: list[str]
    # after missing_data: {"code": …, "missing": [Chinese field names asked for], "stated": {name: value}}
    subsidy_pending: dict[str, Any] | None
    thread: str
    # this turn
    text: str
    # who asks, from the sign-in (never from the message): {"staff": bool, "speaks_for": [codes]}
    viewer: dict[str, Any]
    route: Route
    notice: str
    query: str
    clauses: list[dict[str, Any]]
    gate: dict[str, Any]  # {"p", "zone", "features"}: whether the passages answer (knowledge.gate)
    reply: str
    model_answer: str  # the model's text before the guard, masked (evaluators re-check the guard on it)
    validity: list[str]  # the validity notes of the cited documents (expired, in force until …)
    citations: list[dict[str, Any]]
    ticket: str
    prompt_ids: list[str]
    tool_calls: list[dict[str, Any]]
    facts: dict[str, str]  # facts stated for the pending subsidy question, by Chinese field name
    model: str
    model_ms: float
    error: str
