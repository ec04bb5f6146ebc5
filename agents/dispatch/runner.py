"""The dispatch agent, built once by the composition root: prepares proposals in the background, audits all.

An order is *prepared* as soon as it exists (or is first opened): the graph enriches it and, below the
review threshold, lets the model adjudicate among the candidates, then stops at the review interrupt.
That is where the model's time goes, off any caseworker's request. A review resumes the stopped graph;
when the preparation is still waiting for the model (or never ran), the review does not wait: the
preparation is cancelled and the graph is run again without the model, so the proposal is the
dispatch model's first department, which is also what the console showed.

Every suggestion, adjudication (prompt id, candidates, answer) and caseworker decision leaves an audit
record, masked like the resident's turns.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from contextlib import suppress
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from agents.dispatch import prompts
from agents.dispatch.graph import build_graph, thread
from agents.dispatch.nodes import DispatchDeps, proposed_department
from agents.dispatch.state import ReviewDecision
from tools import telemetry
from tools.audit import AuditLog, AuditRecord
from tools.work_orders import State

REVIEWABLE = (State.REPORTED, State.ACCEPTED, State.RETURNED)

logger = logging.getLogger(__name__)

AGENT = "dispatch"


class UnknownDepartmentError(ValueError):
    """A department that is not one of the city's units (names the field it came in)."""

    def __init__(self, name: str, field: str) -> None:
        super().__init__(f"“{name}”不是本市的承办单位：请从单位列表中选择。")
        self.field = field


class DispatchAgent:
    """One compiled graph over one model, with the background preparations it has started."""

    def __init__(
        self, deps: DispatchDeps, checkpointer: BaseCheckpointSaver[Any], audit: AuditLog | None = None
    ) -> None:
        self.deps = deps
        self.graph = build_graph(deps, checkpointer)
        self.audit = audit
        self._preparing: dict[str, asyncio.Task[None]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def units(self) -> list[str]:
        """The city's units a caseworker may dispatch to: the model's departments and the duty list's."""
        named = set(self.deps.model.department.classes)
        if self.deps.model.duties is not None:
            named |= set(self.deps.model.duties.departments)
        return sorted(named)

    def check_unit(self, name: str | None, field: str) -> None:
        """Raise :class:`UnknownDepartmentError` unless ``name`` is empty or one of :meth:`units`."""
        if name and name not in set(self.units()):
            raise UnknownDepartmentError(name, field)

    def schedule(self, ticket: str) -> None:
        """Prepare ``ticket`` in the background (once at a time per ticket)."""
        if ticket in self._preparing:
            return
        task = asyncio.get_running_loop().create_task(self.prepare(ticket), name=f"dispatch-{ticket}")
        self._preparing[ticket] = task
        task.add_done_callback(lambda done: self._finished(ticket, done))

    def _finished(self, ticket: str, task: asyncio.Task[None]) -> None:
        self._preparing.pop(ticket, None)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("preparing %s failed: %s", ticket, task.exception())

    @telemetry.traced(
        telemetry.INVOKE_AGENT, AGENT, {telemetry.AGENT_NAME: AGENT, "cityagent.step": "prepare"}
    )
    async def prepare(self, ticket: str) -> None:
        """Run the graph to the review interrupt (or to the end when it auto-dispatches), unless it has."""
        telemetry.annotate_current({"cityagent.ticket": ticket})
        config = thread(ticket)
        snapshot = await self.graph.aget_state(config)
        if "review" in (snapshot.next or ()):
            return
        order = await asyncio.to_thread(self.deps.store.get, ticket)
        if order.state not in REVIEWABLE:
            return
        started = time.perf_counter()
        start = {"ticket": ticket, "force_review": False, "skip_model": False}
        values = await self.graph.ainvoke(start, config)
        telemetry.annotate_current(  # not the outcome: it holds the caseworker's free text
            {"cityagent.route": values.get("route"), "cityagent.awaiting_review": "__interrupt__" in values}
        )
        await self._record_suggestion(ticket, values, (time.perf_counter() - started) * 1000)

    async def proposal(self, ticket: str) -> dict[str, Any] | None:
        """What a pending review proposes: the department, whether the model adjudicated, its reason."""
        snapshot = await self.graph.aget_state(thread(ticket))
        if "review" not in (snapshot.next or ()):
            return None
        values = snapshot.values
        adjudication = values.get("adjudication") or {}
        department = proposed_department(values)
        by_model = adjudication.get("choice") == department
        return {
            "department": department,
            "source": "llm" if by_model else "model",
            "reason": str(adjudication.get("reason", "")) if by_model else "",
        }

    async def review(self, ticket: str, decision: ReviewDecision) -> dict[str, Any]:
        """Carry out a caseworker's decision at once; returns the graph's final values."""
        lock = self._locks.get(ticket)
        if lock is None:  # held weakly: gone once no review of this ticket is running or waiting
            lock = self._locks[ticket] = asyncio.Lock()
        async with lock:
            return await self._review(ticket, decision)

    @telemetry.traced(
        telemetry.INVOKE_AGENT, AGENT, {telemetry.AGENT_NAME: AGENT, "cityagent.step": "review"}
    )
    async def _review(self, ticket: str, decision: ReviewDecision) -> dict[str, Any]:
        started = time.perf_counter()
        telemetry.annotate_current({"cityagent.ticket": ticket, "cityagent.action": decision.get("action")})
        preparing = self._preparing.get(ticket)
        if preparing is not None and not preparing.done():  # the model is still thinking: do not wait
            preparing.cancel()
            with suppress(asyncio.CancelledError):
                await preparing
        config = thread(ticket)
        snapshot = await self.graph.aget_state(config)
        if "review" not in (snapshot.next or ()):
            await self.graph.ainvoke({"ticket": ticket, "force_review": True, "skip_model": True}, config)
            snapshot = await self.graph.aget_state(config)
        proposed = proposed_department(snapshot.values)
        result: dict[str, Any] = await self.graph.ainvoke(Command(resume=dict(decision)), config)
        await self._record_review(ticket, decision, proposed, result, (time.perf_counter() - started) * 1000)
        return result

    async def _record_suggestion(self, ticket: str, values: dict[str, Any], latency_ms: float) -> None:
        if self.audit is None:
            return
        suggestion = values.get("suggestion") or {}
        calls: list[dict[str, Any]] = [
            {
                "tool": "dispatch.suggest",
                "model_version": suggestion.get("model_version", ""),
                "departments": [
                    {"department": d["department"], "confidence": d["confidence"]}
                    for d in suggestion.get("departments", [])
                ],
                "category": (suggestion.get("category") or {}).get("label", ""),
                "duplicates": [d.get("ticket") for d in values.get("duplicates", [])],
                "location": values.get("location", {}),
            }
        ]
        adjudication = values.get("adjudication")
        if adjudication:
            calls.append(
                {
                    "tool": "llm.adjudicate",
                    "prompt_id": prompts.ADJUDICATE_ID,
                    "candidates": [d["department"] for d in suggestion.get("departments", [])],
                    "choice": adjudication.get("choice"),
                    "reason": adjudication.get("reason", ""),
                    "source": adjudication.get("source", ""),
                    "error": adjudication.get("error") or "",
                }
            )
        route = "auto_dispatch" if values.get("route") == "auto" else "suggestion"
        outcome = str(values.get("outcome", ""))
        await self._write(
            ticket,
            route,
            calls,
            prompt_ids=values.get("prompt_ids", []),
            latency_ms=latency_ms,
            reply=outcome,
        )

    async def _record_review(
        self,
        ticket: str,
        decision: ReviewDecision,
        proposed: str,
        result: dict[str, Any],
        latency_ms: float,
    ) -> None:
        if self.audit is None:
            return
        call = {
            "tool": "dispatch.review",
            "actor": decision.get("actor", ""),
            "action": decision.get("action", ""),
            "proposed": proposed,
            "shown": decision.get("shown", ""),
            "department": result.get("department", ""),
            "source": result.get("source", ""),
            "merged_into": decision.get("merged_into", ""),
            "reason": decision.get("reason", ""),
        }
        outcome = str(result.get("outcome", ""))
        await self._write(ticket, "review", [call], prompt_ids=[], latency_ms=latency_ms, reply=outcome)

    async def _write(
        self,
        ticket: str,
        route: str,
        calls: list[dict[str, Any]],
        *,
        prompt_ids: list[str],
        latency_ms: float,
        reply: str,
    ) -> None:
        assert self.audit is not None
        record = AuditRecord(
            thread=ticket, agent=AGENT, route=route, user_text="", reply=reply,
            model=self.deps.llm.describe if self.deps.llm.available else "", latency_ms=latency_ms,
            prompt_ids=list(prompt_ids), tool_calls=calls,
        )  # fmt: skip
        try:
            await asyncio.to_thread(self.audit.record, record)
        except Exception:  # an audit outage is logged, never hides the decision already carried out
            logger.exception("could not write the dispatch audit record of %s", ticket)
