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
    shown: str  # the department the console proposed: approving it, or changing away from it


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
    department: str  # where it went, and how: auto, review:approved, review:changed
    source: str
    force_review: bool  # a caseworker is deciding now: stop for them even where auto-dispatch is on
    skip_model: bool  # a caseworker is waiting: propose without the model's adjudication
