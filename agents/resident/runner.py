"""One conversation turn as a stream of events, with its audit record.

The HTTP layer turns these events into server-sent events; tests and the evaluation
runner read them directly. Order of events in a turn::

    notice?  progress*  token*  error?  answer  citations  ticket?  done

``progress`` events (:mod:`agents.resident.progress`) say what the turn is doing while the resident
waits: looking up the policies (at once), how many clauses were found and from which documents, and
that the answer is being written; the first token replaces them.

``answer`` carries the final, verified text: a client shows the tokens as they come and
then replaces them with it (the guard may have taken out an unsupported number).

A message is masked (:func:`tools.privacy.mask_pii`) the moment it arrives, before anything is
written: the graph, its checkpoints, the history and the audit trail only ever see the masked
text. A call-back number in it is taken out raw first and held in
:class:`~tools.work_orders.contacts.PendingContacts` for the report's order, and dropped after the
turn unless the report draft still waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
from opentelemetry.trace import Span
from sqlalchemy.exc import DBAPIError

from agents.resident import progress
from agents.resident.graph import thread as run_config
from agents.resident.report import phone_in
from agents.resident.state import ChatMessage
from knowledge.errors import KnowledgeError
from tools import telemetry
from tools.audit import AuditLog, AuditRecord
from tools.db import DatabaseError
from tools.privacy import mask_pii
from tools.work_orders.contacts import PendingContacts, tail

logger = logging.getLogger(__name__)
# The stores a turn reads and writes (checkpoints, work orders) failing: a restart, a network cut.
STORAGE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error, DBAPIError, DatabaseError)

AGENT = "resident"
ANONYMOUS: dict[str, Any] = {"staff": False, "speaks_for": []}


@dataclass(frozen=True)
class TurnEvent:
    """One event of a turn: ``kind`` and its JSON-able ``data``."""

    kind: str
    data: Any


class ResidentAssistant:
    """Runs turns of the resident graph, one at a time per conversation, and audits each."""

    def __init__(
        self,
        graph: Any,
        audit: AuditLog | None,
        *,
        describe_model: str = "",
        contacts: PendingContacts | None = None,
        hotline: str = "12345",
    ) -> None:
        self._graph = graph
        self._hotline = hotline  # the city's hotline, named in the error replies
        self._audit = audit
        self._contacts = contacts
        self._describe_model = describe_model
        self._locks: dict[str, asyncio.Lock] = {}

    async def history(self, conversation: str) -> list[ChatMessage]:
        """The conversation so far (masked), as the checkpoint keeps it."""
        return list((await self.last_turn(conversation)).get("messages", []))

    async def last_turn(self, conversation: str) -> dict[str, Any]:
        """The working fields of the conversation's latest turn (route, query, clauses, reply, …)."""
        snapshot = await self._graph.aget_state(run_config(conversation))
        return dict(snapshot.values or {})

    async def turn(
        self, conversation: str, text: str, viewer: dict[str, Any] | None = None
    ) -> AsyncIterator[TurnEvent]:
        """Run one turn; yield its events as they happen.

        ``viewer``: who is asking, as the service signed them in (``{"staff": bool, "speaks_for":
        [credit codes]}``); anonymous when None. It decides what of an enterprise's shared data
        the turn may show, and is set again on every turn.
        """
        lock = self._locks.setdefault(conversation, asyncio.Lock())
        agent = telemetry.open_span(
            telemetry.INVOKE_AGENT,
            AGENT,
            attributes={
                telemetry.AGENT_NAME: AGENT,
                telemetry.CONVERSATION_ID: telemetry.pseudonym(conversation),
            },
        )
        try:
            async with lock:
                turn, errors = self._turn(conversation, text, viewer or ANONYMOUS), list[str]()
                async for event in telemetry.current_during(agent, turn):
                    _annotate(agent, event, errors)
                    yield event
        finally:
            agent.end()
        if not lock.locked():
            self._locks.pop(conversation, None)

    async def _turn(
        self, conversation: str, raw_text: str, viewer: dict[str, Any]
    ) -> AsyncIterator[TurnEvent]:
        started = time.perf_counter()
        config = run_config(conversation)
        failure = ""
        text = mask_pii(raw_text)
        held: tuple[bool, str | None] = (False, None)
        try:
            held = await self._hold_contact(conversation, raw_text)
            async for mode, chunk in self._graph.astream(
                {"text": text, "thread": conversation, "viewer": viewer},
                config,
                stream_mode=["custom", "updates", "tasks"],
                durability="exit",
            ):
                if mode in ("updates", "tasks"):  # a step started or finished: tell the resident what it is
                    step = progress.from_update(chunk) if mode == "updates" else progress.from_task(chunk)
                    if step is not None:
                        yield TurnEvent("progress", step)
                    continue
                for kind in ("notice", "token", "error"):
                    if kind in chunk:
                        yield TurnEvent(kind, chunk[kind])
        except KnowledgeError as exc:
            failure = f"retrieval: {exc}"
            logger.error("turn failed in %s: %s", conversation, exc)
            yield TurnEvent(
                "error",
                {
                    "code": "retrieval_unavailable",
                    "message": f"文件检索暂时不可用，请稍后再试或拨打{self._hotline}热线。",
                },
            )
        except STORAGE_ERRORS as exc:  # the conversation store (or the order store) is not answering
            failure = f"storage: {type(exc).__name__}: {exc}"
            logger.error("turn failed in %s, storage unavailable: %s", conversation, str(exc).splitlines()[0])
            yield TurnEvent(
                "error",
                {
                    "code": "storage_unavailable",
                    "message": f"会话服务暂时不可用，您的消息未处理，请稍后重试或拨打{self._hotline}热线。",
                },
            )
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
            logger.exception("turn failed in %s", conversation)
            yield TurnEvent(
                "error",
                {
                    "code": "internal",
                    "message": f"服务出现错误，您的消息未处理，请稍后重试或拨打{self._hotline}热线。",
                },
            )
        values: dict[str, Any] = {}
        if not failure:
            snapshot = await self._graph.aget_state(config)
            values = dict(snapshot.values or {})
            await self._settle_contact(conversation, values, raw_text, held)
            yield TurnEvent("answer", {"text": values.get("reply", ""), "route": values.get("route", "")})
            yield TurnEvent("citations", values.get("citations", []))
            if values.get("ticket"):
                yield TurnEvent("ticket", {"ticket": values["ticket"]})
        latency_ms = (time.perf_counter() - started) * 1000
        model_ms = float(values.get("model_ms", 0.0))
        yield TurnEvent(
            "done",
            {
                "route": values.get("route", "error"),
                "latency_ms": round(latency_ms, 1),
                "model_ms": round(model_ms, 1),
            },
        )
        await self._record(conversation, text, values, latency_ms, model_ms, failure)

    async def _hold_contact(self, conversation: str, raw_text: str) -> tuple[bool, str | None]:
        """Hold the message's call-back number raw when a report waits for its confirmation.

        Returns whether a number was held, and the number held before it (if any).
        """
        phone = phone_in(raw_text)
        if self._contacts is None or phone is None:
            return False, None
        draft = (await self.last_turn(conversation)).get("draft") or {}
        if draft.get("asking") != "confirm":  # only the confirmation takes a call-back number
            return False, None
        earlier = await asyncio.to_thread(self._contacts.get, conversation)
        await asyncio.to_thread(self._contacts.hold, conversation, phone)
        return True, earlier

    async def _settle_contact(
        self, conversation: str, values: dict[str, Any], raw_text: str, held: tuple[bool, str | None]
    ) -> None:
        """Keep the held number only while the report draft names it; else drop it."""
        if self._contacts is None:
            return
        wanted = str((values.get("draft") or {}).get("phone") or "")
        held_now, earlier = held
        try:
            if held_now:
                latest = phone_in(raw_text) or ""
                if wanted and tail(latest) == tail(wanted):
                    return
                if wanted and earlier and tail(earlier) == tail(wanted):  # another number in passing
                    await asyncio.to_thread(self._contacts.hold, conversation, earlier)
                    return
                await asyncio.to_thread(self._contacts.clear, conversation)
            elif (  # filed or cancelled this turn
                not wanted
                and values.get("route") == "report"
                and await asyncio.to_thread(self._contacts.get, conversation) is not None
            ):
                await asyncio.to_thread(self._contacts.clear, conversation)
        except STORAGE_ERRORS as exc:  # the row expires with its TTL
            logger.warning("held call-back number of %s not settled: %s", conversation, type(exc).__name__)

    async def _record(  # noqa: PLR0917 - private, called once
        self,
        conversation: str,
        text: str,
        values: dict[str, Any],
        latency_ms: float,
        model_ms: float,
        failure: str,
    ) -> None:
        if self._audit is None:
            return
        record = AuditRecord(
            thread=conversation, agent=AGENT, route=str(values.get("route", "error")), user_text=text,
            reply=str(values.get("reply", "")), model=str(values.get("model") or self._describe_model),
            latency_ms=latency_ms, model_ms=model_ms, prompt_ids=list(values.get("prompt_ids", [])),
            chunk_ids=[c["point_id"] for c in values.get("clauses", [])],
            tool_calls=list(values.get("tool_calls", [])), error=failure or str(values.get("error", "")),
        )  # fmt: skip
        try:
            await asyncio.to_thread(self._audit.record, record)
        except Exception:
            logger.exception("audit record of %s not written", conversation)


def _annotate(agent: Span, event: TurnEvent, errors: list[str]) -> None:
    """What a turn's events say about it, on its span: the route, latencies, error codes (no text)."""
    if event.kind == "error":
        errors.append(str(event.data.get("code", "")))
        telemetry.annotate(agent, {"cityagent.error_codes": errors})
    elif event.kind == "done":
        telemetry.annotate(
            agent,
            {"cityagent.route": event.data["route"], "cityagent.latency_ms": event.data["latency_ms"],
             "cityagent.model_ms": event.data["model_ms"]},
        )  # fmt: skip
        if event.data["route"] == "error":  # the turn failed (a degraded answer is not a failure)
            telemetry.fail_as(agent, errors[-1] if errors else "internal")
