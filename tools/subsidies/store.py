"""Rules in the database, versioned, with the approval that makes a draft active.

A rule is written (by hand, or drafted by the model) as a ``draft``; only a policy officer's
approval makes it ``active``, and approving a new version retires the one before it. Every
version is kept with who wrote and who approved it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)

from tools.subsidies.rules import PolicyRule, RuleError

metadata = MetaData()


class SelfApprovalError(RuleError):
    """The author of a draft tried to approve it (a second officer must)."""


subsidy_rules = Table(
    "subsidy_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("approved_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("review_note", Text, nullable=True),
)


class RuleStore:
    """Save drafts, approve them, read what is active."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save_draft(self, rule: PolicyRule, author: str) -> PolicyRule:
        """Store ``rule`` as a new draft version (the next version number of its id)."""
        with self._engine.begin() as conn:
            latest = conn.execute(
                select(subsidy_rules.c.version)
                .where(subsidy_rules.c.rule_id == rule.id)
                .order_by(subsidy_rules.c.version.desc())
                .limit(1)
            ).scalar()
            draft = rule.model_copy(update={"version": int(latest or 0) + 1, "status": "draft"})
            conn.execute(
                insert(subsidy_rules).values(
                    rule_id=draft.id, version=draft.version, status="draft", created_by=author,
                    body=draft.model_dump_json(by_alias=True), created_at=datetime.now(UTC),
                )
            )  # fmt: skip
        return draft

    def approve(self, rule_id: str, version: int, officer: str, *, allow_self: bool = False) -> PolicyRule:
        """Make a draft active (and retire the active version before it).

        The draft's author may not approve it (four eyes) unless ``allow_self``:
        :class:`SelfApprovalError` then names who may.
        """
        row = self._decide(rule_id, version, officer, "active", allow_self=allow_self)
        return self._rule(row.body, "active")

    def send_back(self, rule_id: str, version: int, officer: str, note: str) -> None:
        """Return a draft to its author with the officer's reason; it can never become active."""
        self._decide(rule_id, version, officer, "returned", note)

    def _decide(
        self,
        rule_id: str,
        version: int,
        officer: str,
        status: str,
        note: str | None = None,
        *,
        allow_self: bool = False,
    ) -> Any:
        """Record an officer's decision on a draft (RuleError when it is not a draft); the row before."""
        with self._engine.begin() as conn:
            row = self._row(conn, rule_id, version)
            if row.status != "draft":
                raise RuleError(f"{rule_id} v{version} is {row.status}, not a draft")
            if status == "active" and row.created_by == officer and not allow_self:
                raise SelfApprovalError(
                    f"{rule_id} v{version} was drafted by {officer}: another policy officer must approve it"
                )
            if status == "active":
                conn.execute(
                    update(subsidy_rules)
                    .where(and_(subsidy_rules.c.rule_id == rule_id, subsidy_rules.c.status == "active"))
                    .values(status="retired")
                )
            conn.execute(
                update(subsidy_rules)
                .where(subsidy_rules.c.id == row.id)
                .values(status=status, approved_by=officer, approved_at=datetime.now(UTC), review_note=note)
            )
        return row

    def version(self, rule_id: str, version: int) -> tuple[PolicyRule, str]:
        """One stored version as a rule, and its status (RuleError when there is none)."""
        with self._engine.connect() as conn:
            row = self._row(conn, rule_id, version)
        return self._rule(row.body, row.status), str(row.status)

    @staticmethod
    def _row(conn: Any, rule_id: str, version: int) -> Any:
        row = conn.execute(
            select(subsidy_rules).where(
                and_(subsidy_rules.c.rule_id == rule_id, subsidy_rules.c.version == version)
            )
        ).first()
        if row is None:
            raise RuleError(f"no rule {rule_id} version {version}")
        return row

    @staticmethod
    def _rule(body: str, status: str) -> PolicyRule:
        data: dict[str, Any] = json.loads(body)
        return PolicyRule.model_validate({**data, "status": status})

    def active(self) -> list[PolicyRule]:
        """The active version of every rule."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(subsidy_rules).where(subsidy_rules.c.status == "active")).all()
        return [self._rule(r.body, "active") for r in rows]

    def versions(self, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored version (of one rule), newest first, with who wrote and approved it."""
        query = select(subsidy_rules).order_by(subsidy_rules.c.rule_id, subsidy_rules.c.version.desc())
        if rule_id:
            query = query.where(subsidy_rules.c.rule_id == rule_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"rule_id": r.rule_id, "version": r.version, "status": r.status, "created_by": r.created_by,
             "approved_by": r.approved_by, "created_at": r.created_at, "approved_at": r.approved_at,
             "review_note": r.review_note, "rule": json.loads(r.body)}
            for r in rows
        ]  # fmt: skip
