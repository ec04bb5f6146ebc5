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

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field

from service.container import Services
from service.errors import ServiceError
from service.mcp_tools import SESSION_HEADER, LocalCaller, McpTools, fail

__all__ = ["MCP_PATH", "SESSION_HEADER", "LocalCaller", "build_mcp_server", "mount_mcp"]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)

Ticket = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9-]{4,32}$", description="A ticket number, as the chat or the hotline gave it."
    ),
]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$", description="A rule id from the list.")]
Label = Annotated[str, Field(min_length=1, max_length=50)]


def build_mcp_server(
    services: Callable[[], Services], *, local: LocalCaller | None = None, log_level: str = "INFO"
) -> MCPServer:
    """The MCP server over ``services()`` (called per tool call); ``local``: who a stdio server speaks for."""
    tools = McpTools(services, local or LocalCaller())
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
            raise fail(exc.code, exc.message) from exc
        except Exception as exc:  # the caller learns that it failed, the log learns why
            logger.exception("MCP tool failed")
            raise fail("internal_error", "服务暂时不可用，请稍后再试。") from exc
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

    def fresh_routes() -> list[Any]:  # each call makes the server a new session manager
        return list(
            server.streamable_http_app(
                streamable_http_path=MCP_PATH,
                stateless_http=True,
                json_response=True,
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            ).routes
        )

    mounted = fresh_routes()
    app.router.routes.extend(mounted)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
        # a session manager runs once: an app started again (a test client, a reload) gets a new one
        nonlocal mounted
        routes = app.router.routes
        previous = mounted
        mounted = fresh_routes()
        for old, new in zip(previous, mounted, strict=True):
            routes[routes.index(old)] = new
        async with inner(scope_app) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan
    return server
