"""The MCP tools' bodies and who calls them (served by :mod:`service.mcp_server`, which says the rules).

The caller is read from the transport: the HTTP request's headers (a bearer token, the chat session
header) or, over stdio, the command's :class:`LocalCaller`. Blocking store and registry reads run in
threads; every returned text goes through :func:`masked`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request

from agents.dispatch.nodes import DispatchNodes
from knowledge.errors import KnowledgeError
from knowledge.index import SearchFilter
from service.auth import sign, verify
from service.container import Services
from tools.enterprises.dictionary import NoDictionaryError
from tools.privacy import mask_pii
from tools.users import User, UserStore
from tools.work_orders import OrderNotFoundError, WorkOrder
from tools.work_orders.access import can_see

__all__ = [
    "SESSION_HEADER",
    "Caller",
    "LocalCaller",
    "McpTools",
    "chat_session",
    "fail",
    "masked",
    "staff_user",
]

logger = logging.getLogger(__name__)

SESSION_HEADER = "x-cityagent-session"
_SESSION = re.compile(r"^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{43})$")  # as service.routers.chat issues it
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_STATUS_MAX = 5


@dataclass(frozen=True)
class LocalCaller:
    """Who the stdio server speaks for (its command's options): a staff token and/or a chat session."""

    staff_token: str | None = None
    chat_session: str | None = None


@dataclass(frozen=True)
class Caller:
    """One call's caller, from the transport: the address limited, the staff member, the chat session."""

    address: str
    user: User | None
    session: str | None  # a verified chat session id


def fail(code: str, message: str) -> ToolError:
    """A refusal as the client sees it: ``code: message`` (the HTTP API's codes)."""
    return ToolError(f"{code}: {message}")


def _masked(value: Any) -> Any:
    """``value`` with every string in it masked (dicts and lists walked)."""
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def masked(value: dict[str, Any]) -> dict[str, Any]:
    """A tool's answer with every string in it masked (``mask_pii``)."""
    walked: dict[str, Any] = _masked(value)
    return walked


def _text(value: str, field: str) -> str:
    """A free-text argument, trimmed; control characters refused."""
    if _CONTROL.search(value):
        raise fail("invalid_request", f"{field} contains control characters")
    cleaned = value.strip()
    if not cleaned:
        raise fail("invalid_request", f"{field} must not be empty")
    return cleaned


def staff_user(services: Services, token: str) -> User:
    """The account a session token stands for (as ``service.auth.current_user``), else a tool error."""
    claims = verify(services.secret, token)
    store = UserStore(services.engine)
    if claims is None or store.is_revoked(claims.token_id):
        raise fail("not_signed_in", "请先登录（令牌不存在、已过期或已退出）。")
    user = store.get(claims.username)
    if user is None or user.disabled:
        raise fail("not_signed_in", "账号不存在或已停用。")
    return user


def chat_session(services: Services, value: str) -> str | None:
    """The session id of a validly signed chat session (``id.signature``), else None."""
    match = _SESSION.match(value.strip())
    if match and hmac.compare_digest(match.group(2), sign(services.secret, f"chat-session:{match.group(1)}")):
        return match.group(1)
    return None


class McpTools:
    """The tool bodies over the services (looked up per call: the app builds them in its lifespan)."""

    def __init__(self, services: Callable[[], Services], local: LocalCaller) -> None:
        self._services = services
        self._local = local

    # -- who calls ----------------------------------------------------------------------------------
    async def caller(self, ctx: Context) -> tuple[Services, Caller]:
        """The services and the caller; the call counted against the per-address chat limit."""
        services = self._services()
        request = ctx.request_context.request if ctx.request_context is not None else None
        if isinstance(request, Request):
            header = request.headers.get("authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else None
            sent_session = request.headers.get(SESSION_HEADER)
            address = request.client.host if request.client else "unknown"
        else:
            token, sent_session, address = self._local.staff_token, self._local.chat_session, "stdio"
        if wait := services.ip_limiter.hit(address):
            raise fail("rate_limited", f"您的网络地址调用过于频繁，请 {wait:.0f} 秒后再试。")
        user = await asyncio.to_thread(staff_user, services, token) if token else None
        session = chat_session(services, sent_session) if sent_session else None
        if sent_session and session is None:
            raise fail("invalid_session", "会话无效：请发送聊天窗口的会话（cityagent_session）原值。")
        return services, Caller(address, user, session)

    # -- tools ----------------------------------------------------------------------------------------
    async def search_policies(
        self,
        ctx: Context,
        *,
        query: str,
        k: int,
        mode: Literal["hybrid", "dense", "bm25"],
        region: str | None,
        category: str | None,
    ) -> dict[str, Any]:
        """Passages in force for ``query`` (the API's retriever), each with its citation."""
        services, _ = await self.caller(ctx)
        question = _text(query, "query")
        flt = SearchFilter(
            region=_text(region, "region") if region else None,
            category=_text(category, "category") if category else None,
            valid_on=date.today(),
        )
        try:
            hits = await services.retriever.search(question, k=k, mode=mode, flt=flt)
        except KnowledgeError as exc:
            logger.warning("MCP search failed: %s", exc)
            raise fail("search_unavailable", "政策检索暂时不可用，请稍后再试。") from exc
        return masked(
            {
                "hits": [
                    {
                        "citation": h.citation,
                        "title": h.title,
                        "article": h.article,
                        "doc_number": str(h.payload.get("doc_number", "")),
                        "issuer": str(h.payload.get("issuer", "")),
                        "text": h.text,
                        "score": round(h.score, 4),
                    }
                    for h in hits
                ]
            }
        )

    async def ticket_status(self, ctx: Context, ticket: str | None) -> dict[str, Any]:
        """The caller's chat session's own tickets (all, newest first, or the one named)."""
        services, caller = await self.caller(ctx)
        if caller.session is None:
            raise fail(
                "no_session", f"查询工单需要聊天会话（HTTP 头 {SESSION_HEADER}），其他工单请拨打热线。"
            )
        if wait := services.session_limiter.hit(caller.session):
            raise fail("rate_limited", f"本会话发送过于频繁，请 {wait:.0f} 秒后再试。")
        if services.assistant is None:
            raise fail("assistant_unavailable", "对话服务尚未就绪，请稍后再试。")
        values = await services.assistant.last_turn(f"web:{caller.session}")
        mine = [str(t) for t in values.get("tickets", [])]
        if ticket is not None and ticket not in mine:  # the chat's rule: only this session's own orders
            raise fail("not_yours", "为保护个人信息，只能查询本会话中提交的工单。其他工单请拨打热线查询。")
        wanted = [ticket] if ticket else list(reversed(mine))[:_STATUS_MAX]
        orders = [await asyncio.to_thread(self._status, services, t) for t in wanted]
        return masked({"tickets": [o for o in orders if o is not None]})

    @staticmethod
    def _status(services: Services, ticket: str) -> dict[str, Any] | None:
        try:
            order = services.store.get(ticket)
        except OrderNotFoundError:
            return None
        events = services.store.events(ticket)
        local = services.city.rules.local
        last = events[-1] if events else None
        return {
            "ticket": order.ticket,
            "state": order.state.value,
            "title": order.title,
            "department": order.department,
            "close_due": f"{local(order.close_due):%Y-%m-%d}" if order.close_due else None,
            "last_update": None
            if last is None
            else {
                "at": f"{local(last.at):%Y-%m-%d %H:%M}",
                "state": last.to_state.value,
                "reason": last.reason.strip()[:80],
            },
        }

    async def subsidy_conditions(self, ctx: Context, rule_id: str | None) -> dict[str, Any]:
        """The rules in force, or one rule as published: conditions, exclusions, benefit, clauses."""
        services, _ = await self.caller(ctx)
        try:
            rules = await asyncio.to_thread(services.subsidies.rules)
        except NoDictionaryError as exc:
            raise fail("no_enterprise_dictionary", "本市尚未开通企业政策匹配。") from exc
        today = date.today()
        if rule_id is None:
            listed = [
                {"rule_id": r.id, "document": r.document, "doc_number": r.doc_number, "mode": r.mode,
                 "valid_from": r.valid_from.isoformat(),
                 "valid_to": r.valid_to.isoformat() if r.valid_to else None, "in_force": r.valid_on(today)}
                for r in rules
            ]  # fmt: skip
            return masked({"rules": listed})
        rule = next((r for r in rules if r.id == rule_id), None)
        if rule is None:
            raise fail("rule_not_found", f"没有生效的政策规则 {rule_id}。")
        # the rule itself is the published policy: its conditions, clauses and amounts; no enterprise's facts
        body = rule.model_dump(
            mode="json",
            by_alias=True,
            exclude_none=True,
            include={"id", "version", "document", "doc_number", "mode", "valid_from", "valid_to"}
            | {"conditions", "exclusions", "benefit"},
        )
        return masked({**body, "in_force": rule.valid_on(today)})

    async def dispatch_suggestion(self, ctx: Context, ticket: str) -> dict[str, Any]:
        """A caseworker's view of an order's dispatch suggestion (the orders API's access check)."""
        services, caller = await self.caller(ctx)
        user = caller.user
        if user is None:
            raise fail("not_signed_in", "派单建议仅限工作人员：请用 Authorization: Bearer 令牌调用。")
        if not user.has("caseworker"):
            raise fail("forbidden", "需要以下角色之一：caseworker。")
        order = await asyncio.to_thread(self._visible, services, user, ticket)
        agent = services.dispatch_agent()
        if agent is None:
            raise fail("dispatch_unavailable", "没有派单模型：请先运行 cityagent dispatch train。")
        enrich = DispatchNodes(agent.deps).enrich_now
        enriched = await asyncio.to_thread(enrich, ticket, lambda other: can_see(user, other))
        return masked(
            {
                "ticket": order.ticket,
                "state": order.state.value,
                "department": order.department,
                "suggestion": enriched.get("suggestion"),
                "location": enriched.get("location"),
            }
        )

    @staticmethod
    def _visible(services: Services, user: User, ticket: str) -> WorkOrder:
        try:
            order = services.store.get(ticket)
        except OrderNotFoundError:
            order = None
        if order is None or not can_see(user, order):  # the same answer as a missing order
            raise fail("order_not_found", f"工单 {ticket} 不存在。")
        return order
