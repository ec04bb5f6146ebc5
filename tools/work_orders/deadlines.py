"""Deadlines by urgency, from 示例市12345热线工单办理规定 (第六条 派发, 第八条 办结).

=======  ====================  =====================
urgency  dispatch within       close within
=======  ====================  =====================
特急     30 minutes            24 hours
紧急     2 hours               3 working days
一般     1 working day         5 working days
=======  ====================  =====================

Working days are Monday to Friday; a city plugs in its own holiday calendar
(``holidays``) since public holidays and make-up workdays change every year.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tools.work_orders.lifecycle import Urgency

_WEEKEND = {5, 6}


@dataclass(frozen=True)
class DeadlineRule:
    """How long an urgency level may take, in hours or working days."""

    dispatch_hours: float | None = None
    dispatch_workdays: int | None = None
    close_hours: float | None = None
    close_workdays: int | None = None


RULES: dict[Urgency, DeadlineRule] = {
    Urgency.CRITICAL: DeadlineRule(dispatch_hours=0.5, close_hours=24),
    Urgency.URGENT: DeadlineRule(dispatch_hours=2, close_workdays=3),
    Urgency.NORMAL: DeadlineRule(dispatch_workdays=1, close_workdays=5),
}


def add_workdays(start: datetime, days: int, holidays: Collection[date] = ()) -> datetime:
    """``start`` plus ``days`` working days (same time of day), skipping weekends and ``holidays``."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() not in _WEEKEND and current.date() not in holidays:
            added += 1
    return current


def _due(start: datetime, hours: float | None, workdays: int | None, holidays: Collection[date]) -> datetime:
    if hours is not None:
        return start + timedelta(hours=hours)
    assert workdays is not None
    return add_workdays(start, workdays, holidays)


def dispatch_due(accepted_at: datetime, urgency: Urgency, holidays: Collection[date] = ()) -> datetime:
    """When an accepted order must have been dispatched."""
    rule = RULES[urgency]
    return _due(accepted_at, rule.dispatch_hours, rule.dispatch_workdays, holidays)


def close_due(accepted_at: datetime, urgency: Urgency, holidays: Collection[date] = ()) -> datetime:
    """When an order must be closed."""
    rule = RULES[urgency]
    return _due(accepted_at, rule.close_hours, rule.close_workdays, holidays)
