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
from pydantic import BaseModel, ConfigDict, Field

from agents.dispatch import ReviewError, validate_decision
from agents.dispatch.nodes import DispatchNodes
from agents.dispatch.runner import REVIEWABLE, DispatchAgent, UnknownDepartmentError
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
    proposal: dict[str, Any] | None = None  # what "approve" dispatches to: the department and who chose it


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
    shown: str | None = Field(
        default=None, max_length=128, description="the department the console proposed (approve sends it)"
    )


class UnitList(BaseModel):
    """The city's units a caseworker may dispatch to, and the city's time zone for showing times."""

    departments: list[str]
    timezone: str


class ContactView(BaseModel):
    """The resident's call-back number of one order (shown to a caseworker on request, audited)."""

    ticket: str
    contact_phone: str | None


class ReviewResult(BaseModel):
    """What the dispatch graph did with the decision."""

    outcome: str
    source: str = ""  # review:approved, review:changed, send_back, merge
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


def _agent(services: Services) -> DispatchAgent:
    agent = services.dispatch_agent()
    if agent is None:
        raise ServiceError(503, "dispatch_unavailable", "没有派单模型：请先运行 cityagent dispatch train。")
    return agent


def _check_unit(agent: DispatchAgent | None, name: str | None, field: str) -> None:
    if agent is None:
        return
    try:
        agent.check_unit(name, field)
    except UnknownDepartmentError as exc:
        raise ServiceError(422, "unknown_department", str(exc), exc.field) from exc


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
    agent = services.dispatch_agent()
    if created and agent is not None:  # the proposal is ready before a caseworker opens the order
        agent.schedule(order.ticket)
    return _view(order, datetime.now(UTC))


@router.get("/departments", response_model=UnitList)
async def list_departments(user: Caseworker, services: Svc) -> UnitList:
    """The units an order may be dispatched to (the console offers only these)."""
    agent = services.dispatch_agent()
    return UnitList(departments=agent.units() if agent else [], timezone=services.city.timezone)


@router.get("/orders/{ticket}", response_model=OrderDetail)
async def get_order(ticket: str, user: Caseworker, services: Svc, request: Request) -> OrderDetail:
    """The order, its events, the suggestion with confidence and reasons, location and duplicates."""
    order = await asyncio.to_thread(_visible, services, user, ticket)
    events = await asyncio.to_thread(services.store.events, ticket)
    agent = services.dispatch_agent()
    enriched: dict[str, Any] = {}
    proposal = None
    if agent is not None:
        mine = DispatchNodes(agent.deps).enrich_now
        enriched = dict(await asyncio.to_thread(mine, ticket, lambda other: can_see(user, other)))
        top = enriched["suggestion"]["departments"][:1]
        if top:
            request.app.state.metrics.dispatch_confidence.observe(top[0]["confidence"])
        proposal = await agent.proposal(ticket)
        if proposal is None and order.state in REVIEWABLE:  # filed elsewhere (the chat, Open311): now
            agent.schedule(ticket)
        if proposal is None and top:  # until the preparation is done, approving takes the model's first
            proposal = {"department": top[0]["department"], "source": "model", "reason": ""}
    return OrderDetail(
        order=_view(order, datetime.now(UTC)),
        events=[e.model_dump(mode="json") for e in events],
        suggestion=enriched.get("suggestion"),
        location=enriched.get("location"),
        duplicates=enriched.get("duplicates", []),
        review_pending=proposal is not None and order.state in REVIEWABLE,
        proposal=proposal if order.state in REVIEWABLE else None,
    )


@router.post("/orders/{ticket}/transition", response_model=OrderView)
async def transition(ticket: str, body: TransitionRequest, user: Caseworker, services: Svc) -> OrderView:
    """One move of the closed loop (illegal moves: 409 naming both states)."""
    await asyncio.to_thread(_visible, services, user, ticket)
    _check_unit(services.dispatch_agent(), body.department, "department")
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
    agent = _agent(services)
    _check_unit(agent, body.department, "department")
    _check_unit(agent, body.shown, "shown")
    try:
        decision = validate_decision({**body.model_dump(exclude_none=True), "actor": user.username})
    except ReviewError as exc:
        raise ServiceError(422, "invalid_decision", str(exc)) from exc
    if body.action == "merge":
        _merge_target(services, user, ticket, str(body.merged_into))
    try:  # never waits for the model: see agents.dispatch.runner
        result = await agent.review(ticket, decision)
    except IllegalTransitionError as exc:
        raise ServiceError(409, "illegal_transition", str(exc)) from exc
    order = await asyncio.to_thread(services.store.get, ticket)
    return ReviewResult(
        outcome=str(result.get("outcome", "")),
        source=str(result.get("source", "")),
        order=_view(order, datetime.now(UTC)),
    )


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
