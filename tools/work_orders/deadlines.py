"""Deadlines by urgency, from a city's hotline rules (its city pack's ``hotline.yaml``).

A city states, per urgency level, how long dispatching and closing may take (in hours or in
working days), which weekdays are its weekend, its public holidays and its make-up workdays
(调休上班), and its time zone: working days are counted on the city's calendar, not in UTC.

Without a city (:data:`DEFAULT_RULES`) the same three levels get the common 12345 practice,
counted Monday to Friday in UTC:

=======  ====================  =====================
urgency  dispatch within       close within
=======  ====================  =====================
特急     30 minutes            24 hours
紧急     2 hours               3 working days
一般     1 working day         5 working days
=======  ====================  =====================
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tools.work_orders.lifecycle import Urgency

_WEEKEND = frozenset({5, 6})  # date.weekday(): Saturday, Sunday


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


@dataclass(frozen=True)
class HotlineRules:
    """A city's deadlines, calendar and duplicate window."""

    deadlines: Mapping[Urgency, DeadlineRule] = field(default_factory=lambda: dict(RULES))
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # weekend days worked (调休上班)
    weekend: frozenset[int] = _WEEKEND  # date.weekday() numbers
    timezone: str = "UTC"
    duplicate_window: timedelta = timedelta(days=7)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day of the city."""
        if day in self.workdays:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def local(self, moment: datetime) -> datetime:
        """``moment`` on the city's clock (naive values are taken as UTC)."""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(ZoneInfo(self.timezone))


DEFAULT_RULES = HotlineRules()


def add_workdays(
    start: datetime, days: int, holidays: Collection[date] = (), rules: HotlineRules | None = None
) -> datetime:
    """``start`` plus ``days`` working days (same time of day), on the city's calendar.

    ``holidays`` add to the rules' own; the result is in ``start``'s time zone.
    """
    rules = rules or DEFAULT_RULES
    current = rules.local(start) if start.tzinfo else start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if rules.is_workday(current.date()) and current.date() not in holidays:
            added += 1
    return current.astimezone(start.tzinfo) if start.tzinfo else current


def _due(
    start: datetime,
    hours: float | None,
    workdays: int | None,
    holidays: Collection[date],
    rules: HotlineRules,
) -> datetime:
    if hours is not None:
        return start + timedelta(hours=hours)
    assert workdays is not None
    return add_workdays(start, workdays, holidays, rules)


def dispatch_due(
    accepted_at: datetime,
    urgency: Urgency,
    holidays: Collection[date] = (),
    rules: HotlineRules | None = None,
) -> datetime:
    """When an accepted order must have been dispatched."""
    rules = rules or DEFAULT_RULES
    rule = rules.deadlines[urgency]
    return _due(accepted_at, rule.dispatch_hours, rule.dispatch_workdays, holidays, rules)


def close_due(
    accepted_at: datetime,
    urgency: Urgency,
    holidays: Collection[date] = (),
    rules: HotlineRules | None = None,
) -> datetime:
    """When an order must be closed."""
    rules = rules or DEFAULT_RULES
    rule = rules.deadlines[urgency]
    return _due(accepted_at, rule.close_hours, rule.close_workdays, holidays, rules)
