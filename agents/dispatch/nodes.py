"""The dispatch graph's steps: enrich, adjudicate (low confidence only), review or auto, apply."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, cast

from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, create_model

from agents.dispatch import prompts
from agents.dispatch.state import DispatchState, ReviewDecision
from tools.dispatch.duplicates import WINDOW, RecentOrder, find_duplicates
from tools.dispatch.history import DispatchHistory
from tools.dispatch.location import Gazetteer, extract_location
from tools.dispatch.model import DispatchModel
from tools.llm import LLMClient
from tools.work_orders import State, WorkOrder, WorkOrderStore
from tools.work_orders.lifecycle import FINAL

logger = logging.getLogger(__name__)

NEEDS_HUMAN = "需人工"
ACTIONS = ("approve", "change", "send_back", "merge")


@dataclass
class DispatchDeps:
    """What the graph works with, built by the composition root."""

    store: WorkOrderStore
    model: DispatchModel
    llm: LLMClient
    history: DispatchHistory
    gazetteer: Gazetteer | None = None
    review_threshold: float = 0.8
    auto_dispatch: bool = False
    always_review: bool = False
    duplicate_window: timedelta = WINDOW  # the city's hotline rules say how far apart duplicates may be


class ReviewError(ValueError):
    """A caseworker decision that cannot be applied (says which field is missing)."""


def validate_decision(decision: dict[str, Any]) -> ReviewDecision:
    """Check a caseworker's decision before the graph resumes with it."""
    action = decision.get("action")
    if action not in ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if not decision.get("actor"):
        raise ReviewError("actor (who decided) is required")
    if action == "change" and not decision.get("department"):
        raise ReviewError("changing needs the department")
    if action == "merge" and not decision.get("merged_into"):
        raise ReviewError("merging needs the ticket to merge into")
    if action == "send_back" and not decision.get("reason"):
        raise ReviewError("sending back needs the reason")
    known = {key: decision[key] for key in ReviewDecision.__annotations__ if key in decision}
    return cast(ReviewDecision, known)


class DispatchNodes:
    """The nodes, bound to their dependencies."""

    def __init__(self, deps: DispatchDeps) -> None:
        self.deps = deps

    async def enrich(self, state: DispatchState) -> DispatchState:
        """Location, recent duplicates and the model's suggestion."""
        return await asyncio.to_thread(self.enrich_now, state["ticket"])

    def enrich_now(self, ticket: str, visible: Callable[[WorkOrder], bool] | None = None) -> DispatchState:
        """Location, recent duplicates and the suggestion of one order (also for the console).

        ``visible``: the orders the reader may see; others are never offered as duplicates.
        """
        deps = self.deps
        order = deps.store.get(ticket)
        location = extract_location(f"{order.address} {order.text}", deps.gazetteer)
        recent = [
            RecentOrder(o.ticket, o.text, o.created_at)
            for o in deps.store.list(limit=500)
            if o.ticket != ticket and o.state not in FINAL and (visible is None or visible(o))
        ]
        duplicates = find_duplicates(
            order.text, order.created_at, recent, gazetteer=deps.gazetteer, window=deps.duplicate_window
        )
        suggestion = deps.model.suggest(order.title, order.text)
        return {
            "location": dataclasses.asdict(location),
            "duplicates": [dataclasses.asdict(d) for d in duplicates],
            "suggestion": dataclasses.asdict(suggestion),
            "prompt_ids": [],
        }

    async def adjudicate(self, state: DispatchState) -> DispatchState:
        """Below the threshold, let the LLM choose among the candidates with their duties in view."""
        suggestion = state["suggestion"]
        if state.get("skip_model"):
            return {"adjudication": None}
        candidates = [d["department"] for d in suggestion["departments"]]
        confident = (
            suggestion["departments"]
            and suggestion["departments"][0]["confidence"] >= self.deps.review_threshold
        )
        if confident or not self.deps.llm.available or len(candidates) < 2:
            return {"adjudication": None}
        order = await asyncio.to_thread(self.deps.store.get, state["ticket"])
        duties = self.deps.model.duties
        listed = [(c, duties.duties_of(c) if duties else "") for c in candidates]
        schema = _choice_schema(candidates)
        result = await self.deps.llm.structured(
            [
                {"role": "system", "content": prompts.ADJUDICATE_SYSTEM},
                {"role": "user", "content": prompts.adjudicate_user(order.text, listed)},
            ],
            schema,
            fallback=lambda: schema(choice=NEEDS_HUMAN, reason="模型未给出有效判断"),
        )
        value = result.value.model_dump()
        return {
            "adjudication": {**value, "source": result.source, "error": result.error},
            "prompt_ids": [*state.get("prompt_ids", []), prompts.ADJUDICATE_ID],
        }

    def route(self, state: DispatchState) -> Literal["auto", "review"]:
        """Auto-dispatch only when allowed, confident, and no duplicate is in question."""
        deps = self.deps
        top = state["suggestion"]["departments"][0] if state["suggestion"]["departments"] else None
        confident = top is not None and top["confidence"] >= deps.review_threshold
        held = deps.always_review or state.get("force_review", False)
        if deps.auto_dispatch and not held and confident and not state.get("duplicates"):
            return "auto"
        return "review"

    async def auto(self, state: DispatchState) -> DispatchState:
        """Approve the suggestion without a caseworker."""
        return {"route": "auto", "decision": {"action": "approve", "actor": "auto-dispatch"}}

    async def review(self, state: DispatchState) -> DispatchState:
        """Stop for a caseworker; resume with their decision."""
        answer = interrupt(
            {
                "ticket": state["ticket"],
                "suggestion": state["suggestion"],
                "adjudication": state.get("adjudication"),
                "duplicates": state.get("duplicates", []),
                "location": state.get("location", {}),
            }
        )
        return {"route": "review", "decision": validate_decision(dict(answer))}

    async def apply(self, state: DispatchState) -> DispatchState:
        """Carry out the decision on the order and keep it for retraining."""
        return await asyncio.to_thread(self._apply, state)

    def _apply(self, state: DispatchState) -> DispatchState:
        deps, decision = self.deps, state["decision"]
        ticket, actor, action = state["ticket"], decision["actor"], decision["action"]
        order = deps.store.get(ticket)
        if action == "merge":
            deps.store.transition(
                ticket, State.MERGED, actor, merged_into=decision["merged_into"], reason="一件事合并"
            )
            return {"outcome": f"已合并至工单 {decision['merged_into']}", "department": "", "source": "merge"}
        if order.state == State.REPORTED:
            deps.store.transition(ticket, State.ACCEPTED, actor)
        if action == "send_back":
            return {"outcome": f"已退回：{decision['reason']}", "department": "", "source": "send_back"}
        proposed = decision.get("shown") or proposed_department(state)  # what the caseworker was shown
        department = decision.get("department") or proposed
        suggestion = state["suggestion"]
        category = decision.get("category") or (suggestion.get("category") or {}).get("label", "")
        deps.store.transition(
            ticket, State.DISPATCHED, actor, department=department, reason=decision.get("reason", "")
        )
        source = (
            "auto"
            if state.get("route") == "auto"
            else ("review:changed" if department != proposed else "review:approved")
        )
        deps.history.record(
            ticket, text=order.text, title=order.title, department=department, category=category,
            urgency=order.urgency.value, source=source,
        )  # fmt: skip
        how = {"auto": "自动派发", "review:approved": "审核同意", "review:changed": "审核改派"}[source]
        return {"outcome": f"已派发至 {department}（{how}）", "department": department, "source": source}


def proposed_department(state: DispatchState | dict[str, Any]) -> str:
    """The department put to the caseworker: the LLM's pick when it made one, else the model's first."""
    adjudication = state.get("adjudication") or {}
    choice = adjudication.get("choice")
    if choice and choice != NEEDS_HUMAN:
        return str(choice)
    return str(state["suggestion"]["departments"][0]["department"])


def _choice_schema(candidates: list[str]) -> type[BaseModel]:
    choice_type: Any = Literal[tuple([*candidates, NEEDS_HUMAN])]
    fields: dict[str, Any] = {"choice": (choice_type, ...), "reason": (str, Field(max_length=120))}
    return create_model("DispatchChoice", __config__=ConfigDict(extra="forbid"), **fields)
