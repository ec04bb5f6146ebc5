"""Errors of the work-order store.

::

    WorkOrderError
    ├── OrderNotFoundError        no order with that ticket -> 404
    ├── IllegalTransitionError    the move is not part of the loop, or lacks what it needs -> 409
    └── IdempotencyConflictError  a client key reused for a different report -> 409
"""

from __future__ import annotations


class WorkOrderError(Exception):
    """Base of the work-order errors."""


class OrderNotFoundError(WorkOrderError):
    """No order has this ticket number."""


class IllegalTransitionError(WorkOrderError):
    """The requested state change is not allowed, or misses a required field."""


class IdempotencyConflictError(WorkOrderError):
    """The client key was already used for a report with other content."""
