"""The MCP server: resident-safe tools for AI assistants (and one for staff) over the API's own services.

Built on the official SDK's :class:`~mcp.server.mcpserver.MCPServer`; served as streamable HTTP at
``/mcp`` inside the FastAPI app (stateless JSON responses, so any worker answers any call) and
over stdio by ``cityagent mcp``. Tools::

    search_policies      the city's policy passages with their citations (the retriever of /api/search)
    ticket_status        the orders the caller's own chat session filed (the resident chat's rule)
    subsidy_conditions   the rules in force: each condition with its clause, the amounts (no enterprise data)
    dispatch_suggestion  staff: the dispatch suggestion of an order the caseworker may see (orders API rule)

Who calls is read from the transport, never from a tool's arguments (which a model writes): over
HTTP a staff member sends ``Authorization: Bearer TOKEN`` (the API's session tokens; cookies are
ignored, so a web page cannot borrow a signed-in browser), and a resident sends the chat session
(the ``cityagent_session`` cookie's value) in the ``X-Cityagent-Session`` header; over stdio the
command's options say it. Every call counts against the chat's per-address limit, a ticket lookup
against its session's too. Arguments are bounded and pattern-checked by the tools' schemas; nothing
reaches a model, SQL is parameterised below, and every text returned is masked (``mask_pii``).
A refusal is a tool error ``code: message`` with the API's codes; an order the caseworker may not see
answers exactly as one that does not exist.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.requests import Request

from agents.dispatch.nodes import DispatchNodes
from knowledge.errors import KnowledgeError
from knowledge.index import SearchFilter
from service.auth import sign, verify
from service.container import Services
from service.errors import ServiceError
from tools.enterprises.dictionary import NoDictionaryError
from tools.privacy import mask_pii
from tools.users import User, UserStore
from tools.work_orders import OrderNotFoundError, WorkOrder
from tools.work_orders.access import can_see

__all__ = ["MCP_PATH", "SESSION_HEADER", "LocalCaller", "build_mcp_server", "mount_mcp"]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
SESSION_HEADER = "x-cityagent-session"
_SESSION = re.compile(r"^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{43})$")  # as service.routers.chat issues it
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_STATUS_MAX = 5
_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)

Ticket = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9-]{4,32}$", description="A ticket number, as the chat or the hotline gave it."
    ),
]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$", description="A rule id from the list.")]
Label = Annotated[str, Field(min_length=1, max_length=50)]


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


def _fail(code: str, message: str) -> ToolError:
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


def _masked_dict(value: dict[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = _masked(value)
    return masked


def _text(value: str, field: str) -> str:
    """A free-text argument, trimmed; control characters refused."""
    if _CONTROL.search(value):
        raise _fail("invalid_request", f"{field} contains control characters")
    cleaned = value.strip()
    if not cleaned:
        raise _fail("invalid_request", f"{field} must not be empty")
    return cleaned


def staff_user(services: Services, token: str) -> User:
    """The account a session token stands for (as ``service.auth.current_user``), else a tool error."""
    claims = verify(services.secret, token)
    store = UserStore(services.engine)
    if claims is None or store.is_revoked(claims.token_id):
        raise _fail("not_signed_in", "请先登录（令牌不存在、已过期或已退出）。")
    user = store.get(claims.username)
    if user is None or user.disabled:
        raise _fail("not_signed_in", "账号不存在或已停用。")
    return user


def chat_session(services: Services, value: str) -> str | None:
    """The session id of a validly signed chat session (``id.signature``), else None."""
    match = _SESSION.match(value.strip())
    if match and hmac.compare_digest(match.group(2), sign(services.secret, f"chat-session:{match.group(1)}")):
        return match.group(1)
    return None


class _Tools:
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
            raise _fail("rate_limited", f"您的网络地址调用过于频繁，请 {wait:.0f} 秒后再试。")
        user = await asyncio.to_thread(staff_user, services, token) if token else None
        session = chat_session(services, sent_session) if sent_session else None
        if sent_session and session is None:
            raise _fail("invalid_session", "会话无效：请发送聊天窗口的会话（cityagent_session）原值。")
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
            raise _fail("search_unavailable", "政策检索暂时不可用，请稍后再试。") from exc
        return _masked_dict(
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
        services, caller = await self.caller(ctx)
        if caller.session is None:
            raise _fail(
                "no_session", f"查询工单需要聊天会话（HTTP 头 {SESSION_HEADER}），其他工单请拨打热线。"
            )
        if wait := services.session_limiter.hit(caller.session):
            raise _fail("rate_limited", f"本会话发送过于频繁，请 {wait:.0f} 秒后再试。")
        if services.assistant is None:
            raise _fail("assistant_unavailable", "对话服务尚未就绪，请稍后再试。")
        values = await services.assistant.last_turn(f"web:{caller.session}")
        mine = [str(t) for t in values.get("tickets", [])]
        if ticket is not None and ticket not in mine:  # the chat's rule: only this session's own orders
            raise _fail("not_yours", "为保护个人信息，只能查询本会话中提交的工单。其他工单请拨打热线查询。")
        wanted = [ticket] if ticket else list(reversed(mine))[:_STATUS_MAX]
        orders = [await asyncio.to_thread(self._status, services, t) for t in wanted]
        return _masked_dict({"tickets": [o for o in orders if o is not None]})

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
        services, _ = await self.caller(ctx)
        try:
            rules = await asyncio.to_thread(services.subsidies.rules)
        except NoDictionaryError as exc:
            raise _fail("no_enterprise_dictionary", "本市尚未开通企业政策匹配。") from exc
        today = date.today()
        if rule_id is None:
            listed = [
                {"rule_id": r.id, "document": r.document, "doc_number": r.doc_number, "mode": r.mode,
                 "valid_from": r.valid_from.isoformat(),
                 "valid_to": r.valid_to.isoformat() if r.valid_to else None, "in_force": r.valid_on(today)}
                for r in rules
            ]  # fmt: skip
            return _masked_dict({"rules": listed})
        rule = next((r for r in rules if r.id == rule_id), None)
        if rule is None:
            raise _fail("rule_not_found", f"没有生效的政策规则 {rule_id}。")
        # the rule itself is the published policy: its conditions, clauses and amounts; no enterprise's facts
        body = rule.model_dump(
            mode="json",
            by_alias=True,
            exclude_none=True,
            include={"id", "version", "document", "doc_number", "mode", "valid_from", "valid_to"}
            | {"conditions", "exclusions", "benefit"},
        )
        return _masked_dict({**body, "in_force": rule.valid_on(today)})

    async def dispatch_suggestion(self, ctx: Context, ticket: str) -> dict[str, Any]:
        services, caller = await self.caller(ctx)
        user = caller.user
        if user is None:
            raise _fail("not_signed_in", "派单建议仅限工作人员：请用 Authorization: Bearer 令牌调用。")
        if not user.has("caseworker"):
            raise _fail("forbidden", "需要以下角色之一：caseworker。")
        order = await asyncio.to_thread(self._visible, services, user, ticket)
        agent = services.dispatch_agent()
        if agent is None:
            raise _fail("dispatch_unavailable", "没有派单模型：请先运行 cityagent dispatch train。")
        enrich = DispatchNodes(agent.deps).enrich_now
        enriched = await asyncio.to_thread(enrich, ticket, lambda other: can_see(user, other))
        return _masked_dict(
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
            raise _fail("order_not_found", f"工单 {ticket} 不存在。")
        return order


def build_mcp_server(
    services: Callable[[], Services], *, local: LocalCaller | None = None, log_level: str = "INFO"
) -> MCPServer:
    """The MCP server over ``services()`` (called per tool call); ``local``: who a stdio server speaks for."""
    tools = _Tools(services, local or LocalCaller())
    server: MCPServer = MCPServer(
        name="cityagent",
        instructions="City services: cited policy passages, your own tickets' status, subsidy conditions, "
        "and (staff) dispatch suggestions. Quote the citations you are given.",
        log_level=log_level if log_level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO",  # type: ignore[arg-type]
    )

    async def guarded(call: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await call
        except ToolError:
            raise
        except ServiceError as exc:
            raise _fail(exc.code, exc.message) from exc
        except Exception as exc:  # the caller learns that it failed, the log learns why
            logger.exception("MCP tool failed")
            raise _fail("internal_error", "服务暂时不可用，请稍后再试。") from exc
        return result

    @server.tool(annotations=_READ_ONLY)
    async def search_policies(
        ctx: Context,
        *,
        query: Annotated[str, Field(min_length=1, max_length=500, description="The question or keywords.")],
        k: Annotated[int, Field(ge=1, le=10, description="How many passages.")] = 5,
        mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
        region: Label | None = None,
        category: Label | None = None,
    ) -> dict[str, Any]:
        """Search the city's policies in force; every passage carries its citation (document and article)."""
        return await guarded(
            tools.search_policies(ctx, query=query, k=k, mode=mode, region=region, category=category)
        )

    @server.tool(annotations=_READ_ONLY)
    async def ticket_status(ctx: Context, ticket: Ticket | None = None) -> dict[str, Any]:
        """The status of tickets your own chat session filed (all of them, newest first, or the one named).

        The session is sent by the client (header X-Cityagent-Session), never as an argument;
        anyone else's ticket is refused.
        """
        return await guarded(tools.ticket_status(ctx, ticket))

    @server.tool(annotations=_READ_ONLY)
    async def subsidy_conditions(ctx: Context, rule_id: RuleId | None = None) -> dict[str, Any]:
        """The 免申即享 policy rules in force (no rule_id), or one rule's conditions, each with its clause."""
        return await guarded(tools.subsidy_conditions(ctx, rule_id))

    @server.tool(annotations=_READ_ONLY)
    async def dispatch_suggestion(ctx: Context, ticket: Ticket) -> dict[str, Any]:
        """Staff only (bearer token, role caseworker): the departments suggested for an order and why."""
        return await guarded(tools.dispatch_suggestion(ctx, ticket))

    return server


def mount_mcp(app: FastAPI, log_level: str = "INFO") -> MCPServer:
    """Serve the MCP server at ``MCP_PATH`` in ``app``, over the services its lifespan builds.

    Stateless JSON responses (any worker answers any call, nothing kept between calls). The SDK's
    DNS-rebinding check (Host/Origin allow-lists) is off: the endpoint reads no ambient credential
    (no cookie, no loopback trust), and the app's CORS and security middleware wrap it like any route.
    """
    server = build_mcp_server(lambda: app.state.services, log_level=log_level)
    routes = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    ).routes
    app.router.routes.extend(routes)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
        async with inner(scope_app) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan
    return server
