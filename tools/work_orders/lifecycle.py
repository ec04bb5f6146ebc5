"""The closed loop a work order goes through, and which moves are allowed.

::

    上报 reported ─► 受理 accepted ─► 派发 dispatched ─► 处置 handling ─► 反馈 feedback ─► 办结 closed
         │               │                │   ▲                                  │
         └───────────────┴─► 合并 merged   ▼   │                                  │
                                     退回 returned ◄──────── (不满意: 重新派发) ◄──┘

* 退回: the department sends the order back (not its duty); it is dispatched again or merged.
* 合并: the order is the same 一件事 as another one and is closed into it.
* 反馈 → 派发: the resident was not satisfied and the complaint is reasonable (hotline rules 第十二条).
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where an order is in the loop (values are the city's own words)."""

    REPORTED = "上报"
    ACCEPTED = "受理"
    DISPATCHED = "派发"
    HANDLING = "处置"
    FEEDBACK = "反馈"
    CLOSED = "办结"
    RETURNED = "退回"
    MERGED = "合并"


class Urgency(StrEnum):
    """How urgent an order is (hotline rules 第五条)."""

    NORMAL = "一般"
    URGENT = "紧急"
    CRITICAL = "特急"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.REPORTED: frozenset({State.ACCEPTED, State.MERGED}),
    State.ACCEPTED: frozenset({State.DISPATCHED, State.MERGED}),
    State.DISPATCHED: frozenset({State.HANDLING, State.RETURNED}),
    State.RETURNED: frozenset({State.DISPATCHED, State.MERGED}),
    State.HANDLING: frozenset({State.FEEDBACK}),
    State.FEEDBACK: frozenset({State.CLOSED, State.DISPATCHED}),
    State.CLOSED: frozenset(),
    State.MERGED: frozenset(),
}
FINAL = frozenset({State.CLOSED, State.MERGED})


def allowed(current: State, target: State) -> bool:
    """Whether ``current -> target`` is a move of the loop."""
    return target in TRANSITIONS[current]
