"""The audit trail of agent turns: one row per turn, personal data masked before it is written.

A row says which thread, which route the turn took, which prompts (by id) and which
retrieved chunks (by point id) produced the answer, which tools were called, which
model answered, and how long the turn and its model calls took. Texts are masked with
:func:`tools.privacy.mask_pii`, so the trail can be handed to an accountability review.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Float, Integer, MetaData, String, Table, Text, insert, select

from tools.privacy import mask_pii

metadata = MetaData()

audit_turns = Table(
    "audit_turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("thread", String(96), nullable=False, index=True),
    Column("agent", String(32), nullable=False),
    Column("route", String(32), nullable=False),
    Column("prompt_ids", Text, nullable=False),
    Column("chunk_ids", Text, nullable=False),
    Column("tool_calls", Text, nullable=False),
    Column("model", String(128), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("model_ms", Float, nullable=False),
    Column("user_text", Text, nullable=False),
    Column("reply", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass
class AuditRecord:
    """One agent turn, as the audit trail keeps it."""

    thread: str
    agent: str
    route: str
    user_text: str
    reply: str
    model: str
    latency_ms: float
    model_ms: float = 0.0
    prompt_ids: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    created_at: datetime | None = None
    id: int | None = None  # set when read back from the trail


def _dump(value: Any) -> str:
    return mask_pii(json.dumps(value, ensure_ascii=False, default=str))


class AuditLog:
    """Append and read audit records."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, rec: AuditRecord) -> None:
        """Write one turn (texts and tool arguments masked)."""
        values = {
            "thread": rec.thread, "agent": rec.agent, "route": rec.route,
            "prompt_ids": json.dumps(rec.prompt_ids), "chunk_ids": json.dumps(rec.chunk_ids),
            "tool_calls": _dump(rec.tool_calls), "model": rec.model,
            "latency_ms": round(rec.latency_ms, 1), "model_ms": round(rec.model_ms, 1),
            "user_text": mask_pii(rec.user_text), "reply": mask_pii(rec.reply), "error": mask_pii(rec.error),
            "created_at": rec.created_at or datetime.now(UTC),
        }  # fmt: skip
        with self._engine.begin() as conn:
            conn.execute(insert(audit_turns).values(**values))

    def records(
        self,
        *,
        thread: str | None = None,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
        route: str | None = None,
        agent: str | None = None,
    ) -> Iterator[AuditRecord]:
        """The latest records first, filtered by thread, time window, route and agent."""
        query = select(audit_turns).order_by(audit_turns.c.id.desc()).limit(limit)
        if thread is not None:
            query = query.where(audit_turns.c.thread == thread)
        if since is not None:
            query = query.where(audit_turns.c.created_at >= since)
        if until is not None:
            query = query.where(audit_turns.c.created_at < until)
        if route is not None:
            query = query.where(audit_turns.c.route == route)
        if agent is not None:
            query = query.where(audit_turns.c.agent == agent)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            yield _record(row)

    def get(self, record_id: int) -> AuditRecord | None:
        """One record by its id (None when there is none)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(audit_turns).where(audit_turns.c.id == record_id)).first()
        return _record(row) if row is not None else None


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        thread=row.thread, agent=row.agent, route=row.route, user_text=row.user_text,
        reply=row.reply, model=row.model, latency_ms=row.latency_ms, model_ms=row.model_ms,
        prompt_ids=json.loads(row.prompt_ids), chunk_ids=json.loads(row.chunk_ids),
        tool_calls=json.loads(row.tool_calls), error=row.error, created_at=row.created_at, id=row.id,
    )  # fmt: skip
