"""Work orders in the relational store, with an append-only event per state change.

Texts that are shown or logged (title, text, address) are stored with personal data
masked; a resident's number for a call back is kept only in ``contact_phone``.
Creation is idempotent on ``client_key``; a transition is a conditional update
(``WHERE state = :from``), so two caseworkers acting at once cannot both win.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tools.privacy import mask_pii
from tools.work_orders.deadlines import DEFAULT_RULES, HotlineRules, close_due, dispatch_due
from tools.work_orders.errors import (
    IdempotencyConflictError,
    IllegalTransitionError,
    OrderNotFoundError,
)
from tools.work_orders.lifecycle import FINAL, State, Urgency, allowed

metadata = MetaData()

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", String(32), unique=True, nullable=True),
    Column("client_key", String(128), unique=True, nullable=True),
    Column("state", String(8), nullable=False),
    Column("urgency", String(8), nullable=False),
    Column("category", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("district", String(64), nullable=False),
    Column("street", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("contact_phone", String(32), nullable=True),
    Column("department", String(128), nullable=True),
    Column("merged_into", String(32), nullable=True),
    Column("rating", String(16), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("dispatch_due", DateTime(timezone=True), nullable=True),
    Column("close_due", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

work_order_events = Table(
    "work_order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("work_orders.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("from_state", String(8), nullable=True),
    Column("to_state", String(8), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("order_id", "seq", name="uq_work_order_events_order_seq"),
)

_SQLITE_WRITERS = threading.Lock()
RATINGS_CLOSING = ("满意", "基本满意")


class NewWorkOrder(BaseModel):
    """What a report brings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=2, max_length=5000)
    title: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=300)
    district: str = Field(default="", max_length=64)
    street: str = Field(default="", max_length=64)
    category: str = Field(default="", max_length=64)
    urgency: Urgency = Urgency.NORMAL
    channel: str = Field(default="web", max_length=32)
    contact_phone: str | None = Field(default=None, pattern=r"^\+?[\d\- ]{7,20}$")
    client_key: str | None = Field(default=None, min_length=8, max_length=128)


class WorkOrder(BaseModel):
    """An order as stored (texts masked)."""

    ticket: str
    state: State
    urgency: Urgency
    category: str
    title: str
    text: str
    address: str
    district: str
    street: str
    channel: str
    department: str | None
    merged_into: str | None
    rating: str | None
    created_at: datetime
    accepted_at: datetime | None
    dispatch_due: datetime | None
    close_due: datetime | None
    updated_at: datetime

    def overdue(self, now: datetime) -> bool:
        """Past its dispatch or close deadline and not finished."""
        if self.state in FINAL:
            return False
        if self.state in (State.ACCEPTED, State.RETURNED) and self.dispatch_due and now > self.dispatch_due:
            return True
        return bool(self.close_due and now > self.close_due)


class Event(BaseModel):
    """One state change: who, when, why."""

    seq: int
    from_state: State | None
    to_state: State
    actor: str
    at: datetime
    reason: str
    data: dict[str, Any]


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC time (SQLite gives naive ones back)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _order(row: Any) -> WorkOrder:
    data = dict(row._mapping)
    for key in ("created_at", "accepted_at", "dispatch_due", "close_due", "updated_at"):
        data[key] = as_utc(data[key])
    return WorkOrder.model_validate(data)


def _event_of(row: Any) -> Event:
    at = as_utc(row.at)
    assert at is not None
    return Event(
        seq=row.seq,
        from_state=State(row.from_state) if row.from_state else None,
        to_state=State(row.to_state),
        actor=row.actor,
        at=at,
        reason=row.reason,
        data=json.loads(row.data),
    )


class WorkOrderStore:
    """Create, read, list and move work orders."""

    def __init__(
        self,
        engine: Engine,
        *,
        ticket_prefix: str = "SL",
        holidays: Collection[date] = (),
        rules: HotlineRules | None = None,
    ) -> None:
        self._engine = engine
        # SQLite has one writer at a time: queue this process's writers on a lock rather than
        # on SQLite's busy timeout (other processes still wait on the busy timeout).
        self._write_lock = _SQLITE_WRITERS if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        self._prefix = ticket_prefix
        self._holidays = holidays
        self._rules = rules or DEFAULT_RULES

    def create(self, new: NewWorkOrder, actor: str, now: datetime | None = None) -> tuple[WorkOrder, bool]:
        """Store a report (state 上报); with a known ``client_key``, the existing order and False."""
        now = now or datetime.now(UTC)
        if new.client_key:
            existing = self._by_key(new.client_key, new)
            if existing:
                return existing, False
        values = {
            "client_key": new.client_key, "state": State.REPORTED.value, "urgency": new.urgency.value,
            "category": new.category, "title": mask_pii(new.title), "text": mask_pii(new.text),
            "address": mask_pii(new.address), "district": new.district, "street": new.street,
            "channel": new.channel, "contact_phone": new.contact_phone, "created_at": now, "updated_at": now,
        }  # fmt: skip
        try:
            with self._write_lock, self._engine.begin() as conn:
                key = conn.execute(insert(work_orders).values(**values)).inserted_primary_key
                if key is None:
                    raise RuntimeError("the database returned no id for the new work order")
                order_id = int(key[0])
                ticket = f"{self._prefix}{self._rules.local(now):%Y%m%d}{order_id:06d}"
                conn.execute(update(work_orders).where(work_orders.c.id == order_id).values(ticket=ticket))
                self._event(
                    conn,
                    order_id,
                    1,
                    old=None,
                    new=State.REPORTED,
                    actor=actor,
                    at=now,
                    reason="",
                    data={"channel": new.channel},
                )
        except IntegrityError:
            if new.client_key and (existing := self._by_key(new.client_key, new)):
                return existing, False  # a concurrent request with the same key won
            raise
        return self.get(ticket), True

    def _by_key(self, client_key: str, new: NewWorkOrder) -> WorkOrder | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(work_orders).where(work_orders.c.client_key == client_key)).first()
        if row is None:
            return None
        order = _order(row)
        if order.text != mask_pii(new.text):
            raise IdempotencyConflictError(f"client key {client_key!r} was already used for another report")
        return order

    @staticmethod
    def _event(
        conn: Any,
        order_id: int,
        seq: int,
        *,
        old: State | None,
        new: State,
        actor: str,
        at: datetime,
        reason: str,
        data: dict[str, Any],
    ) -> None:
        conn.execute(
            insert(work_order_events).values(
                order_id=order_id,
                seq=seq,
                from_state=old.value if old else None,
                to_state=new.value,
                actor=mask_pii(actor),
                at=at,
                reason=mask_pii(reason),
                data=json.dumps(data, ensure_ascii=False),
            )
        )

    def get(self, ticket: str) -> WorkOrder:
        """The order with this ticket."""
        with self._engine.connect() as conn:
            row = conn.execute(select(work_orders).where(work_orders.c.ticket == ticket)).first()
        if row is None:
            raise OrderNotFoundError(f"no work order {ticket}")
        return _order(row)

    def contact(self, ticket: str) -> str | None:
        """The resident's call-back number (raw: only for a caseworker who may see the order)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(work_orders.c.contact_phone).where(work_orders.c.ticket == ticket)
            ).first()
        if row is None:
            raise OrderNotFoundError(f"no work order {ticket}")
        return str(row.contact_phone) if row.contact_phone is not None else None

    def created_by(self, ticket: str) -> str:
        """Who registered the order (the actor of its first event, as recorded)."""
        query = (
            select(work_order_events.c.actor)
            .join(work_orders, work_orders.c.id == work_order_events.c.order_id)
            .where(work_orders.c.ticket == ticket, work_order_events.c.seq == 1)
        )
        with self._engine.connect() as conn:
            actor = conn.execute(query).scalar()
        if actor is None:
            raise OrderNotFoundError(f"no work order {ticket}")
        return str(actor)

    def events(self, ticket: str) -> list[Event]:
        """The order's history, oldest first."""
        query = (
            select(work_order_events)
            .join(work_orders, work_orders.c.id == work_order_events.c.order_id)
            .where(work_orders.c.ticket == ticket)
            .order_by(work_order_events.c.seq)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            self.get(ticket)  # raises when the order does not exist
        return [_event_of(r) for r in rows]

    def transition(
        self,
        ticket: str,
        target: State,
        actor: str,
        *,
        reason: str = "",
        department: str | None = None,
        merged_into: str | None = None,
        rating: str | None = None,
        now: datetime | None = None,
    ) -> WorkOrder:
        """Move the order to ``target`` if the loop allows it; record who, when and why."""
        now = now or datetime.now(UTC)
        order = self.get(ticket)
        if not allowed(order.state, target):
            raise IllegalTransitionError(f"{ticket}: {order.state.value} → {target.value} is not allowed")
        changes = self._changes(
            order,
            target,
            reason=reason,
            department=department,
            merged_into=merged_into,
            rating=rating,
            now=now,
        )
        data = {
            k: v
            for k, v in {"department": department, "merged_into": merged_into, "rating": rating}.items()
            if v
        }
        with self._write_lock, self._engine.begin() as conn:
            order_id, seq = conn.execute(
                select(work_orders.c.id, func.count(work_order_events.c.id))
                .join(work_order_events, work_order_events.c.order_id == work_orders.c.id)
                .where(work_orders.c.ticket == ticket)
                .group_by(work_orders.c.id)
            ).one()
            result = conn.execute(
                update(work_orders)
                .where(and_(work_orders.c.ticket == ticket, work_orders.c.state == order.state.value))
                .values(state=target.value, updated_at=now, **changes)
            )
            if result.rowcount != 1:
                raise IllegalTransitionError(f"{ticket} changed meanwhile; reload it and try again")
            self._event(
                conn,
                order_id,
                seq + 1,
                old=order.state,
                new=target,
                actor=actor,
                at=now,
                reason=reason,
                data=data,
            )
        return self.get(ticket)

    def _changes(
        self,
        order: WorkOrder,
        target: State,
        *,
        reason: str,
        department: str | None,
        merged_into: str | None,
        rating: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        ticket = order.ticket
        if target == State.ACCEPTED:
            return {
                "accepted_at": now,
                "dispatch_due": dispatch_due(now, order.urgency, self._holidays, self._rules),
                "close_due": close_due(now, order.urgency, self._holidays, self._rules),
            }
        if target == State.DISPATCHED:
            if not department:
                raise IllegalTransitionError(f"{ticket}: dispatching needs a department")
            if order.state == State.FEEDBACK and not reason:
                raise IllegalTransitionError(f"{ticket}: re-dispatching after feedback needs the reason")
            return {"department": department}
        if target in (State.RETURNED,) and not reason:
            raise IllegalTransitionError(f"{ticket}: sending back needs a reason")
        if target == State.MERGED:
            if not merged_into or merged_into == ticket:
                raise IllegalTransitionError(f"{ticket}: merging needs the ticket of another order")
            self.get(merged_into)
            return {"merged_into": merged_into}
        if target == State.CLOSED:
            if rating not in RATINGS_CLOSING:
                raise IllegalTransitionError(
                    f"{ticket}: closing needs the resident's rating ({'/'.join(RATINGS_CLOSING)})"
                )
            return {"rating": rating}
        return {}

    def list(
        self,
        *,
        state: State | None = None,
        department: str | None = None,
        overdue_at: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        departments: Collection[str] | None = None,
        urgency: Urgency | None = None,
    ) -> list[WorkOrder]:
        """Orders, most urgent deadline first; ``overdue_at`` keeps those overdue at that time.

        ``departments`` limits the list to orders of those departments (a caseworker's own).
        """
        query = select(work_orders)
        if state:
            query = query.where(work_orders.c.state == state.value)
        if department:
            query = query.where(work_orders.c.department == department)
        if departments is not None:
            query = query.where(work_orders.c.department.in_(list(departments)))
        if urgency:
            query = query.where(work_orders.c.urgency == urgency.value)
        if overdue_at:
            open_states = [s.value for s in State if s not in FINAL]
            waiting = [State.ACCEPTED.value, State.RETURNED.value]
            query = query.where(
                and_(
                    work_orders.c.state.in_(open_states),
                    or_(
                        work_orders.c.close_due < overdue_at,
                        and_(work_orders.c.state.in_(waiting), work_orders.c.dispatch_due < overdue_at),
                    ),
                )
            )
        rank = case(
            (work_orders.c.urgency == Urgency.CRITICAL.value, 0),
            (work_orders.c.urgency == Urgency.URGENT.value, 1),
            else_=2,
        )
        due = func.coalesce(work_orders.c.close_due, work_orders.c.dispatch_due, work_orders.c.created_at)
        query = query.order_by(due.is_(None), due, rank, work_orders.c.id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
        return [_order(r) for r in rows]

    def count(self) -> int:
        """Number of orders."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(work_orders)).scalar_one())
