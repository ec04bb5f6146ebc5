"""Who may see which work order: the one access check every path to an order goes through.

A member of staff limited to departments sees the orders dispatched to those departments, and
nothing else (not an order still waiting for dispatch, not another department's order as a
duplicate, a merge target or an idempotent replay). One without departments (the hotline's own
dispatchers) and an admin see every order. The console, the API and the dispatch review all ask
:func:`can_see` (or :func:`visible_departments` for a query), never the roles themselves.
"""

from __future__ import annotations

from typing import Protocol

from tools.privacy import mask_pii
from tools.work_orders.store import WorkOrder


class Viewer(Protocol):
    """What the check needs of a signed-in member of staff (``tools.users.User``)."""

    @property
    def username(self) -> str:
        """The account name."""

    @property
    def roles(self) -> tuple[str, ...]:
        """Roles held."""

    @property
    def departments(self) -> tuple[str, ...]:
        """Departments the account is limited to (none: all)."""


def visible_departments(viewer: Viewer) -> frozenset[str] | None:
    """The departments whose orders the viewer sees; None when they see every order."""
    if "admin" in viewer.roles or not viewer.departments:
        return None
    return frozenset(viewer.departments)


def can_see(viewer: Viewer, order: WorkOrder) -> bool:
    """Whether the viewer may see (and so act on) ``order``."""
    allowed = visible_departments(viewer)
    return allowed is None or order.department in allowed


def may_replay(viewer: Viewer, order: WorkOrder, created_by: str) -> bool:
    """Whether a repeated creation (same ``client_key``) may return ``order`` to this viewer.

        The account that created the order gets it back (the same request, the same answer), as does
        anyone who may see it; anyone else learns nothing from the key. ``created_by`` is the actor
    recorded on the order's first event (masked as events are).
    """
    return can_see(viewer, order) or created_by == mask_pii(viewer.username)
