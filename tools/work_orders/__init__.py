"""Work orders: the closed loop, deadlines by urgency, and the store."""

from tools.work_orders.errors import (
    IdempotencyConflictError,
    IllegalTransitionError,
    OrderNotFoundError,
    WorkOrderError,
)
from tools.work_orders.lifecycle import State, Urgency
from tools.work_orders.store import Event, NewWorkOrder, WorkOrder, WorkOrderStore

__all__ = [
    "Event",
    "IdempotencyConflictError",
    "IllegalTransitionError",
    "NewWorkOrder",
    "OrderNotFoundError",
    "State",
    "Urgency",
    "WorkOrder",
    "WorkOrderError",
    "WorkOrderStore",
]
