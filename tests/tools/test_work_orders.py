"""The work-order store and its closed loop, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tools.db import migrate
from tools.work_orders import (
    IdempotencyConflictError,
    IllegalTransitionError,
    NewWorkOrder,
    OrderNotFoundError,
    State,
    Urgency,
    WorkOrderStore,
)
from tools.work_orders.deadlines import add_workdays, close_due, dispatch_due
from tools.work_orders.lifecycle import TRANSITIONS

MONDAY_9 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
REPORT = NewWorkOrder(text="幸福路12号下水道堵塞，污水漫到路面。联系电话13812345678", urgency=Urgency.URGENT)


@pytest.fixture
def store(any_engine: Engine) -> WorkOrderStore:
    migrate(any_engine)
    return WorkOrderStore(any_engine)


def walk(store: WorkOrderStore, ticket: str, to: State) -> None:
    """Move an order along the main path up to ``to``."""
    path = [State.ACCEPTED, State.DISPATCHED, State.HANDLING, State.FEEDBACK, State.CLOSED]
    for step in path[: path.index(to) + 1]:
        store.transition(ticket, step, "caseworker", department="市水务局", rating="满意", now=MONDAY_9)


def test_create_masks_text_and_keeps_the_contact_apart(store: WorkOrderStore) -> None:
    order, created = store.create(
        REPORT.model_copy(update={"contact_phone": "13812345678"}), "resident", MONDAY_9
    )
    assert created and order.state == State.REPORTED
    assert order.ticket == f"SL20250303{1:06d}"
    assert "138****5678" in order.text and "13812345678" not in order.text
    assert store.events(order.ticket)[0].to_state == State.REPORTED


def test_the_main_path_with_deadlines_and_history(store: WorkOrderStore) -> None:
    order, _ = store.create(REPORT, "resident", MONDAY_9)
    walk(store, order.ticket, State.CLOSED)
    final = store.get(order.ticket)
    assert final.state == State.CLOSED and final.rating == "满意" and final.department == "市水务局"
    assert final.dispatch_due == MONDAY_9 + timedelta(hours=2)
    assert final.close_due == datetime(2025, 3, 6, 9, 0, tzinfo=UTC)  # 3 working days
    history = [(e.from_state, e.to_state) for e in store.events(order.ticket)]
    assert history == [
        (None, State.REPORTED), (State.REPORTED, State.ACCEPTED), (State.ACCEPTED, State.DISPATCHED),
        (State.DISPATCHED, State.HANDLING), (State.HANDLING, State.FEEDBACK), (State.FEEDBACK, State.CLOSED),
    ]  # fmt: skip


@pytest.mark.parametrize("source", list(State))
def test_every_illegal_transition_is_refused(store: WorkOrderStore, source: State) -> None:
    for target in State:
        if target in TRANSITIONS[source]:
            continue
        order, _ = store.create(REPORT.model_copy(update={"client_key": None}), "resident", MONDAY_9)
        _reach(store, order.ticket, source)
        with pytest.raises(IllegalTransitionError):
            store.transition(
                order.ticket, target, "x", department="d", reason="r", rating="满意", merged_into="SL0"
            )
        assert store.get(order.ticket).state == source  # nothing changed


def _reach(store: WorkOrderStore, ticket: str, state: State) -> None:
    if state == State.REPORTED:
        return
    if state == State.MERGED:
        other, _ = store.create(REPORT, "resident", MONDAY_9)
        store.transition(ticket, State.MERGED, "caseworker", merged_into=other.ticket)
        return
    if state == State.RETURNED:
        walk(store, ticket, State.DISPATCHED)
        store.transition(ticket, State.RETURNED, "市水务局", reason="不属于本单位职责")
        return
    walk(store, ticket, state)


def test_transitions_say_what_they_need(store: WorkOrderStore) -> None:
    order, _ = store.create(REPORT, "resident", MONDAY_9)
    store.transition(order.ticket, State.ACCEPTED, "caseworker")
    with pytest.raises(IllegalTransitionError, match="department"):
        store.transition(order.ticket, State.DISPATCHED, "caseworker")
    store.transition(order.ticket, State.DISPATCHED, "caseworker", department="市城市管理局")
    with pytest.raises(IllegalTransitionError, match="reason"):
        store.transition(order.ticket, State.RETURNED, "市城市管理局")
    returned = store.transition(order.ticket, State.RETURNED, "市城市管理局", reason="排水管道属水务局职责")
    assert returned.state == State.RETURNED
    with pytest.raises(IllegalTransitionError, match="another order"):
        store.transition(order.ticket, State.MERGED, "caseworker", merged_into=order.ticket)
    with pytest.raises(OrderNotFoundError):
        store.transition(order.ticket, State.MERGED, "caseworker", merged_into="SL99999999999999")
    store.transition(order.ticket, State.DISPATCHED, "caseworker", department="市水务局")
    assert store.events(order.ticket)[-2].reason == "排水管道属水务局职责"


def test_an_unsatisfied_resident_reopens_the_order(store: WorkOrderStore) -> None:
    order, _ = store.create(REPORT, "resident", MONDAY_9)
    walk(store, order.ticket, State.FEEDBACK)
    with pytest.raises(IllegalTransitionError, match="rating"):
        store.transition(order.ticket, State.CLOSED, "hotline", rating="不满意")
    with pytest.raises(IllegalTransitionError, match="reason"):
        store.transition(order.ticket, State.DISPATCHED, "hotline", department="市水务局")
    again = store.transition(
        order.ticket, State.DISPATCHED, "hotline", department="市水务局", reason="不满意：仍在外溢"
    )
    assert again.state == State.DISPATCHED


def test_creation_is_idempotent_on_the_client_key(store: WorkOrderStore) -> None:
    keyed = REPORT.model_copy(update={"client_key": "widget-session-1-msg-7"})
    first, created = store.create(keyed, "resident", MONDAY_9)
    second, created_again = store.create(keyed, "resident", MONDAY_9)
    assert created and not created_again and first.ticket == second.ticket
    assert store.count() == 1
    with pytest.raises(IdempotencyConflictError):
        store.create(keyed.model_copy(update={"text": "另一件事：路灯不亮"}), "resident", MONDAY_9)


def test_concurrent_retries_make_one_order(store: WorkOrderStore) -> None:
    keyed = REPORT.model_copy(update={"client_key": "retry-storm-0001"})
    tickets: list[str] = []
    errors: list[Exception] = []

    def create() -> None:
        try:
            tickets.append(store.create(keyed, "resident")[0].ticket)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(tickets)) == 1 and store.count() == 1


def test_concurrent_dispatches_cannot_both_win(store: WorkOrderStore) -> None:
    order, _ = store.create(REPORT, "resident", MONDAY_9)
    store.transition(order.ticket, State.ACCEPTED, "caseworker")
    outcomes: list[str] = []

    def dispatch(dept: str) -> None:
        try:
            store.transition(order.ticket, State.DISPATCHED, dept, department=dept)
            outcomes.append(dept)
        except IllegalTransitionError:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=dispatch, args=(d,))
        for d in ("市水务局", "市城市管理局", "市住房和城乡建设局")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("refused") == 2
    assert len([e for e in store.events(order.ticket) if e.to_state == State.DISPATCHED]) == 1


def test_overdue_detection(store: WorkOrderStore) -> None:
    late, _ = store.create(REPORT.model_copy(update={"urgency": Urgency.CRITICAL}), "resident", MONDAY_9)
    store.transition(late.ticket, State.ACCEPTED, "caseworker", now=MONDAY_9)
    on_time, _ = store.create(REPORT, "resident", MONDAY_9)
    walk(store, on_time.ticket, State.HANDLING)
    an_hour_later = MONDAY_9 + timedelta(hours=1)
    assert [o.ticket for o in store.list(overdue_at=an_hour_later)] == [
        late.ticket
    ]  # 特急: 30 minutes to dispatch
    assert store.get(late.ticket).overdue(an_hour_later)
    assert not store.get(on_time.ticket).overdue(an_hour_later)
    assert [o.ticket for o in store.list(state=State.HANDLING)] == [on_time.ticket]


def test_deadline_rules() -> None:
    friday_17 = datetime(2025, 3, 7, 17, 0, tzinfo=UTC)
    assert dispatch_due(friday_17, Urgency.NORMAL) == datetime(
        2025, 3, 10, 17, 0, tzinfo=UTC
    )  # over the weekend
    assert close_due(friday_17, Urgency.CRITICAL) == friday_17 + timedelta(hours=24)
    assert add_workdays(friday_17, 1, holidays={date(2025, 3, 10)}) == datetime(
        2025, 3, 11, 17, 0, tzinfo=UTC
    )
