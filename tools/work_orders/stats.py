"""The console's dashboard: volume, dispatch sources, overdue orders, times to dispatch and close."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from tools.dispatch.history import dispatch_history
from tools.work_orders.lifecycle import FINAL, State
from tools.work_orders.store import as_utc, work_order_events, work_orders


@dataclass
class Dashboard:
    """Figures over every order in the store (or one caseworker's departments)."""

    orders: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_department: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    reviewed: int = 0
    auto_dispatched_share: float | None = None
    changed_by_caseworker_share: float | None = None
    median_hours_to_dispatch: float | None = None
    median_hours_to_close: float | None = None


def _group(engine: Engine, column: Any, where: list[ColumnElement[bool]]) -> dict[str, int]:
    query = select(column, func.count()).select_from(work_orders).where(*where).group_by(column)
    with engine.connect() as conn:
        return {str(key or "（未派发）"): int(n) for key, n in conn.execute(query).all()}


def _median_hours(engine: Engine, target: State, where: list[ColumnElement[bool]]) -> float | None:
    first = (
        select(work_order_events.c.order_id, func.min(work_order_events.c.at).label("at"))
        .where(work_order_events.c.to_state == target.value)
        .group_by(work_order_events.c.order_id)
        .subquery()
    )
    query = (
        select(work_orders.c.created_at, first.c.at)
        .join(first, first.c.order_id == work_orders.c.id)
        .where(*where)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    hours = [
        ((as_utc(at) or at) - (as_utc(created) or created)).total_seconds() / 3600 for created, at in rows
    ]
    return round(statistics.median(hours), 2) if hours else None


def dashboard(engine: Engine, departments: list[str] | None = None, now: datetime | None = None) -> Dashboard:
    """The figures; ``departments`` limits them to those departments' orders."""
    now = now or datetime.now(UTC)
    where: list[ColumnElement[bool]] = (
        [] if departments is None else [work_orders.c.department.in_(departments)]
    )
    open_states = [s.value for s in State if s not in FINAL]
    waiting = [State.ACCEPTED.value, State.RETURNED.value]
    overdue = and_(
        work_orders.c.state.in_(open_states),
        or_(
            work_orders.c.close_due < now,
            and_(work_orders.c.state.in_(waiting), work_orders.c.dispatch_due < now),
        ),
    )
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(work_orders).where(*where)).scalar_one())
        late = int(
            conn.execute(select(func.count()).select_from(work_orders).where(overdue, *where)).scalar_one()
        )
        sources: dict[str, int] = dict(
            conn.execute(
                select(dispatch_history.c.source, func.count())
                .where(dispatch_history.c.source.in_(["auto", "review:approved", "review:changed"]))
                .group_by(dispatch_history.c.source)
            ).all()
        )
    decided = sum(sources.values())
    return Dashboard(
        orders=total,
        by_state=_group(engine, work_orders.c.state, where),
        by_category=_group(engine, work_orders.c.category, where),
        by_department=_group(engine, work_orders.c.department, where),
        overdue=late,
        reviewed=decided,
        auto_dispatched_share=round(sources.get("auto", 0) / decided, 3) if decided else None,
        changed_by_caseworker_share=round(sources.get("review:changed", 0) / decided, 3) if decided else None,
        median_hours_to_dispatch=_median_hours(engine, State.DISPATCHED, where),
        median_hours_to_close=_median_hours(engine, State.CLOSED, where),
    )
