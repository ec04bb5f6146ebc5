"""Work orders for caseworkers: queue, detail with the dispatch suggestion, review, transitions, dashboard.

Every route needs a signed-in caseworker (or admin). A caseworker limited to departments sees
and acts on only those departments' orders; one without departments (the hotline's
dispatchers) and an admin see all. Every path to an order asks the one check,
:func:`tools.work_orders.access.can_see`: the detail, the list, the duplicates offered (another
department's are left out, not redacted: they could not be merged into anyway), transitions and
reviews (and their merge target), an idempotent replay (409, nothing of the order), the
call-back number (each showing audited) and the dashboard. An order the caseworker may not see
answers exactly as one that does not exist. Reviews go through the dispatch graph (agents/dispatch):
the order is enriched, the suggestion put to the caseworker (LangGraph interrupt), and the
decision resumes the graph, which dispatches and records the decision for retraining.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from agents.dispatch import ReviewError, build_graph, thread, validate_decision
from agents.dispatch.nodes import DispatchNodes
from service.auth import require
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError
from tools.audit import AuditRecord
from tools.users import User
from tools.work_orders import (
    IdempotencyConflictError,
    IllegalTransitionError,
    NewWorkOrder,
    OrderNotFoundError,
    State,
    Urgency,
    WorkOrder,
)
from tools.work_orders.access import can_see, may_replay, visible_departments
from tools.work_orders.stats import Dashboard, dashboard

router = APIRouter(prefix="/api", tags=["work orders"])
Caseworker = Annotated[User, Depends(require("caseworker"))]
Svc = Annotated[Services, Depends(get_services)]


class OrderView(WorkOrder):
    """An order as a caseworker sees it, with whether it is overdue now."""

    overdue_now: bool = False


class OrderList(BaseModel):
    """One page of the queue."""

    orders: list[OrderView]
    limit: int
    offset: int


class OrderDetail(BaseModel):
    """An order with its history, the dispatch suggestion and its reasons, and possible duplicates."""

    order: OrderView
    events: list[dict[str, Any]]
    suggestion: dict[str, Any] | None
    location: dict[str, str] | None
    duplicates: list[dict[str, Any]]
    review_pending: bool


class TransitionRequest(BaseModel):
    """Move an order along the loop."""

    model_config = ConfigDict(extra="forbid")

    to: State
    reason: str = Field(default="", max_length=500)
    department: str | None = Field(default=None, max_length=128)
    merged_into: str | None = Field(default=None, max_length=32)
    rating: str | None = Field(default=None, max_length=16)


class ReviewRequest(BaseModel):
    """A caseworker's decision on the suggestion."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "change", "send_back", "merge"]
    department: str | None = Field(default=None, max_length=128)
    category: str | None = Field(default=None, max_length=64)
    merged_into: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", max_length=500)


class ContactView(BaseModel):
    """The resident's call-back number of one order (shown to a caseworker on request, audited)."""

    ticket: str
    contact_phone: str | None


class ReviewResult(BaseModel):
    """What the dispatch graph did with the decision."""

    outcome: str
    order: OrderView


def _view(order: WorkOrder, now: datetime) -> OrderView:
    return OrderView(**order.model_dump(), overdue_now=order.overdue(now))


def _visible(services: Services, user: User, ticket: str) -> WorkOrder:
    try:
        order = services.store.get(ticket)
    except OrderNotFoundError as exc:
        raise ServiceError(404, "order_not_found", f"工单 {ticket} 不存在。", "ticket") from exc
    if not can_see(user, order):  # the same answer as a missing order: nothing is confirmed
        raise ServiceError(404, "order_not_found", f"工单 {ticket} 不存在。", "ticket")
    return order


def _departments(user: User) -> list[str] | None:
    allowed = visible_departments(user)
    return None if allowed is None else sorted(allowed)


def _merge_target(services: Services, user: User, ticket: str, target: str) -> None:
    """A merge needs another existing order the caseworker can see."""
    if target == ticket:
        raise ServiceError(422, "invalid_decision", "不能把工单合并到它自己。", "merged_into")
    try:
        _visible(services, user, target)
    except ServiceError as exc:
        raise ServiceError(422, "invalid_decision", f"合并目标工单 {target} 不存在。", "merged_into") from exc


@router.get("/orders", response_model=OrderList)
async def list_orders(
    user: Caseworker,
    services: Svc,
    state: State | None = None,
    department: Annotated[str | None, Query(max_length=128)] = None,
    urgency: Urgency | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OrderList:
    """The queue: nearest deadline first, then urgency; filter by state, department, urgency, overdue."""
    now = datetime.now(UTC)
    mine = _departments(user)
    orders = await asyncio.to_thread(
        services.store.list, state=state, department=department, urgency=urgency,
        overdue_at=now if overdue else None, limit=limit, offset=offset, departments=mine,
    )  # fmt: skip
    return OrderList(orders=[_view(o, now) for o in orders], limit=limit, offset=offset)


@router.post("/orders", response_model=OrderView, status_code=201)
async def create_order(body: NewWorkOrder, user: Caseworker, services: Svc, response: Response) -> OrderView:
    """Register an order (a phone call, a walk-in); with a known ``client_key`` the existing order (200)."""
    conflict = ServiceError(
        409, "idempotency_conflict", f"client_key {body.client_key!r} 已用于另一件诉求。", "client_key"
    )
    try:
        order, created = await asyncio.to_thread(services.store.create, body, user.username)
    except IdempotencyConflictError as exc:
        raise conflict from exc
    if not created:
        creator = await asyncio.to_thread(services.store.created_by, order.ticket)
        if not may_replay(user, order, creator):  # another's order: the same answer as another text
            raise conflict
        response.status_code = 200
    return _view(order, datetime.now(UTC))


@router.get("/orders/{ticket}", response_model=OrderDetail)
async def get_order(ticket: str, user: Caseworker, services: Svc, request: Request) -> OrderDetail:
    """The order, its events, the suggestion with confidence and reasons, location and duplicates."""
    order = await asyncio.to_thread(_visible, services, user, ticket)
    events = await asyncio.to_thread(services.store.events, ticket)
    deps = services.dispatch_deps()
    enriched: dict[str, Any] = {}
    pending = False
    if deps is not None:
        mine = DispatchNodes(deps).enrich_now
        enriched = dict(await asyncio.to_thread(mine, ticket, lambda other: can_see(user, other)))
        top = enriched["suggestion"]["departments"][:1]
        if top:
            request.app.state.metrics.dispatch_confidence.observe(top[0]["confidence"])
        if services.checkpointer is not None:
            snapshot = await build_graph(deps, services.checkpointer).aget_state(thread(ticket))
            pending = "review" in (snapshot.next or ())
    return OrderDetail(
        order=_view(order, datetime.now(UTC)),
        events=[e.model_dump(mode="json") for e in events],
        suggestion=enriched.get("suggestion"),
        location=enriched.get("location"),
        duplicates=enriched.get("duplicates", []),
        review_pending=pending,
    )


@router.post("/orders/{ticket}/transition", response_model=OrderView)
async def transition(ticket: str, body: TransitionRequest, user: Caseworker, services: Svc) -> OrderView:
    """One move of the closed loop (illegal moves: 409 naming both states)."""
    await asyncio.to_thread(_visible, services, user, ticket)
    if body.to == State.MERGED and body.merged_into:  # the same rule as a merge by review
        await asyncio.to_thread(_merge_target, services, user, ticket, body.merged_into)
    try:
        order = await asyncio.to_thread(
            services.store.transition, ticket, body.to, user.username, reason=body.reason,
            department=body.department, merged_into=body.merged_into, rating=body.rating,
        )  # fmt: skip
    except IllegalTransitionError as exc:
        raise ServiceError(409, "illegal_transition", str(exc), "to") from exc
    except OrderNotFoundError as exc:
        raise ServiceError(
            422, "order_not_found", f"合并目标工单 {body.merged_into} 不存在。", "merged_into"
        ) from exc
    return _view(order, datetime.now(UTC))


@router.post("/orders/{ticket}/review", response_model=ReviewResult)
async def review(ticket: str, body: ReviewRequest, user: Caseworker, services: Svc) -> ReviewResult:
    """Approve, change, send back or merge: the dispatch graph takes the decision and carries it out."""
    order = await asyncio.to_thread(_visible, services, user, ticket)
    if order.state not in (State.REPORTED, State.ACCEPTED, State.RETURNED):
        raise ServiceError(
            409, "not_reviewable", f"工单 {ticket} 处于“{order.state.value}”，不需要派单审核。"
        )
    deps = services.dispatch_deps()
    if deps is None or services.checkpointer is None:
        raise ServiceError(503, "dispatch_unavailable", "没有派单模型：请先运行 cityagent dispatch train。")
    try:
        decision = validate_decision({**body.model_dump(exclude_none=True), "actor": user.username})
    except ReviewError as exc:
        raise ServiceError(422, "invalid_decision", str(exc)) from exc
    if body.action == "merge":
        _merge_target(services, user, ticket, str(body.merged_into))
    deps.always_review = True  # a caseworker is deciding now: the graph must wait for them
    graph = build_graph(deps, services.checkpointer)
    config = thread(ticket)
    snapshot = await graph.aget_state(config)
    if "review" not in (snapshot.next or ()):
        await graph.ainvoke({"ticket": ticket}, config)
    try:
        result = await graph.ainvoke(Command(resume=dict(decision)), config)
    except IllegalTransitionError as exc:
        raise ServiceError(409, "illegal_transition", str(exc)) from exc
    order = await asyncio.to_thread(services.store.get, ticket)
    return ReviewResult(outcome=str(result.get("outcome", "")), order=_view(order, datetime.now(UTC)))


@router.get("/orders/{ticket}/contact", response_model=ContactView)
async def get_contact(ticket: str, user: Caseworker, services: Svc, response: Response) -> ContactView:
    """The resident's call-back number, to a caseworker who may see the order; every showing is audited."""
    order = await asyncio.to_thread(_visible, services, user, ticket)
    phone = await asyncio.to_thread(services.store.contact, ticket)
    record = AuditRecord(
        thread=order.ticket, agent="console", route="contact_shown", user_text="", reply="",
        model="", latency_ms=0.0,
        tool_calls=[{"tool": "orders.contact", "ticket": order.ticket, "actor": user.username,
                     "has_number": phone is not None}],
    )  # fmt: skip
    await asyncio.to_thread(services.audit.record, record)  # no record, no number
    response.headers["Cache-Control"] = "no-store"
    return ContactView(ticket=order.ticket, contact_phone=phone)


@router.get("/dashboard")
async def get_dashboard(user: Caseworker, services: Svc) -> dict[str, Any]:
    """Volume by category and department, dispatch sources, overdue count, median times."""
    mine = _departments(user)
    figures: Dashboard = await asyncio.to_thread(dashboard, services.engine, mine)
    return dataclasses.asdict(figures)
