"""What the dispatch graph carries from node to node (JSON-able: it is checkpointed)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Action = Literal["approve", "change", "send_back", "merge"]


class ReviewDecision(TypedDict, total=False):
    """A caseworker's answer to a review interrupt."""

    action: Action
    actor: str
    department: str
    category: str
    merged_into: str
    reason: str


class DispatchState(TypedDict, total=False):
    """One order's way through enrichment, proposal, review and dispatch."""

    ticket: str
    location: dict[str, str]
    duplicates: list[dict[str, Any]]
    suggestion: dict[str, Any]
    adjudication: dict[str, Any] | None
    prompt_ids: list[str]
    route: Literal["auto", "review"]
    decision: ReviewDecision
    outcome: str
