"""``cityagent mcp``: the MCP server over stdio, for an assistant on this machine (Claude Desktop, an IDE).

Registered in :mod:`service.cli`. The same tools and rules as ``/mcp`` on the HTTP service
(:mod:`service.mcp_server`); who the server speaks for comes from its options, never from a tool's
arguments: ``--staff-token`` (a session token, as ``Authorization: Bearer``) and ``--chat-session``
(a resident's ``cityagent_session`` cookie value). stdout carries the protocol only; logs go to stderr.
No model is started: none of the tools calls one.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from service.cli._common import cli_settings, guarded

StaffToken = Annotated[
    str | None,
    typer.Option(
        envvar="CITYAGENT_MCP_STAFF_TOKEN", show_envvar=True,
        help="A staff session token (POST /api/auth/login): enables dispatch_suggestion for that account.",
    ),
]  # fmt: skip
ChatSession = Annotated[
    str | None,
    typer.Option(
        envvar="CITYAGENT_MCP_CHAT_SESSION", show_envvar=True,
        help="A resident's chat session (the cityagent_session cookie): ticket_status shows its tickets.",
    ),
]  # fmt: skip


def mcp(staff_token: StaffToken = None, chat_session: ChatSession = None) -> None:
    """Serve the MCP tools over stdio (policy search, own tickets, subsidy conditions, staff dispatch)."""
    from service.container import build_services
    from service.mcp_server import LocalCaller, build_mcp_server

    settings = cli_settings()
    services = guarded(lambda: build_services(settings))
    local = LocalCaller(staff_token=staff_token or None, chat_session=chat_session or None)
    server = build_mcp_server(lambda: services, local=local, log_level=settings.log_level)

    async def run() -> None:
        await services.start(with_model=False)
        try:
            await server.run_stdio_async()
        finally:
            await services.close()

    os.environ.pop("CITYAGENT_MCP_STAFF_TOKEN", None)  # not inherited by anything this process starts
    asyncio.run(run())
