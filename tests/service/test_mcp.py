"""The MCP server driven by the SDK's own client over streamable HTTP against a running app (and stdio).

Access rules as the HTTP API's: anonymous callers get no dispatch suggestion, a department-limited
caseworker cannot see another department's order (answered as a missing one), and a resident sees
only the tickets their own chat session filed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from eval.bench.fast_model import ServerThread
from service.app import create_app
from service.auth import issue
from service.container import Services, build_services
from service.demo_city import RULES_DIR
from service.mcp_server import MCP_PATH, SESSION_HEADER, build_mcp_server
from service.mcp_tools import masked
from service.routers.chat import COOKIE
from service.settings import load_settings
from tests.service.conftest import PASSWORD

BURST = "北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹"
TOOLS_SNAPSHOT = Path(__file__).parent / "snapshots" / "mcp_tools.json"
TRASH = "东湖区湖滨路小区门口垃圾堆了三天没人清运，气味很大"


@pytest.fixture(scope="module")
def server(staffed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("mcp") / "data"
    shutil.copytree(staffed_dir, data)
    settings = load_settings(
        data_dir=data,
        llm={"backend": "none"},
        chat={"min_bm25_score": 12.0},
        subsidies={"rules_dir": RULES_DIR},
    )
    with ServerThread(create_app(settings)) as running:
        yield running


def _token(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])  # what a script sends as the bearer token


def _order(base: str, token: str, text: str, *, approve: bool) -> str:
    headers = {"authorization": f"Bearer {token}"}
    created = httpx.post(f"{base}/api/orders", json={"text": text}, headers=headers, timeout=60)
    assert created.status_code in (200, 201), created.text
    ticket = str(created.json()["ticket"])
    if approve:
        reviewed = httpx.post(
            f"{base}/api/orders/{ticket}/review", json={"action": "approve"}, headers=headers, timeout=60
        )
        assert reviewed.status_code == 200, reviewed.text
    return ticket


def _resident(base: str) -> tuple[str, str]:
    """A chat session that filed one ticket: (the session cookie's value, the ticket)."""
    with httpx.Client(base_url=base, timeout=60) as chat:
        chat.post("/api/chat", json={"message": "建设路98号井盖破损了，今天早上发现的", "stream": False})
        filed = chat.post("/api/chat", json={"message": "确认", "stream": False}).json()
        assert filed["ticket"], filed
        return str(chat.cookies.get(COOKIE)), str(filed["ticket"])


async def _call(base: str, tool: str, args: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=60) as http,
        Client(streamable_http_client(f"{base}{MCP_PATH}", http_client=http)) as client,
    ):
        return await client.call_tool(tool, args)


def call(base: str, tool: str, args: dict[str, Any], headers: dict[str, str] | None = None) -> CallToolResult:
    result: CallToolResult = asyncio.run(_call(base, tool, args, headers))
    return result


def text(result: CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


def refusal(result: CallToolResult) -> str:
    """The refusal's ``code: message`` (after the SDK's "Error executing tool NAME: ")."""
    assert result.is_error, text(result)
    return text(result).split(": ", 1)[1]


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None  # the README's example reads it
    assert json.loads(text(result)) == result.structured_content  # and the text form says the same
    return dict(result.structured_content)


def test_the_tools_are_listed_with_bounded_arguments(server: ServerThread) -> None:
    async def listed() -> dict[str, Any]:
        async with Client(f"{server.url}{MCP_PATH}") as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    tools = asyncio.run(listed())
    assert set(tools) == {"search_policies", "ticket_status", "subsidy_conditions", "dispatch_suggestion"}
    assert tools["search_policies"]["properties"]["query"]["maxLength"] == 500
    assert "ctx" not in tools["search_policies"]["properties"]


def test_policy_search_returns_cited_passages(server: ServerThread) -> None:
    hits = data(call(server.url, "search_policies", {"query": "住房公积金提取", "mode": "bm25"}))["hits"]
    assert hits and hits[0]["citation"].startswith("〔示例市住房公积金提取管理办法 第")
    assert all(h["text"] for h in hits)


def test_hostile_search_arguments_are_refused(server: ServerThread) -> None:
    assert call(server.url, "search_policies", {"query": "x" * 501}).is_error
    assert call(server.url, "search_policies", {"query": "a\x00b"}).is_error
    assert call(server.url, "search_policies", {"query": "公积金", "k": 10_000}).is_error
    assert call(server.url, "search_policies", {"query": "公积金", "mode": "sql"}).is_error


def test_anonymous_callers_get_no_dispatch_suggestion(server: ServerThread) -> None:
    ticket = _order(server.url, _token(server.url, "hotline"), BURST, approve=False)
    refused = call(server.url, "dispatch_suggestion", {"ticket": ticket})
    assert refusal(refused).startswith("not_signed_in")
    forged = call(server.url, "dispatch_suggestion", {"ticket": ticket}, {"authorization": "Bearer a.b.c.d"})
    assert refusal(forged).startswith("not_signed_in")
    officer = {"authorization": f"Bearer {_token(server.url, 'officer')}"}
    assert refusal(call(server.url, "dispatch_suggestion", {"ticket": ticket}, officer)).startswith(
        "forbidden"
    )


def test_staff_get_the_suggestion_within_their_departments(server: ServerThread) -> None:
    hotline = _token(server.url, "hotline")
    water_order = _order(server.url, hotline, BURST, approve=True)
    other = _order(server.url, hotline, TRASH, approve=False)
    mine = data(
        call(server.url, "dispatch_suggestion", {"ticket": other}, {"authorization": f"Bearer {hotline}"})
    )
    assert mine["ticket"] == other and mine["suggestion"]["departments"]
    water = {"authorization": f"Bearer {_token(server.url, 'water')}"}
    seen = data(call(server.url, "dispatch_suggestion", {"ticket": water_order}, water))
    assert seen["department"] == "示例市供水集团有限公司"
    hidden = call(server.url, "dispatch_suggestion", {"ticket": other}, water)
    missing = call(server.url, "dispatch_suggestion", {"ticket": "SL000000000"}, water)
    assert refusal(hidden) == refusal(missing).replace("SL000000000", other)


def test_a_resident_sees_only_their_own_tickets(server: ServerThread) -> None:
    session, ticket = _resident(server.url)
    headers = {SESSION_HEADER: session}
    own = data(call(server.url, "ticket_status", {}, headers))["tickets"]
    assert [t["ticket"] for t in own] == [ticket] and own[0]["state"]
    assert (
        data(call(server.url, "ticket_status", {"ticket": ticket}, headers))["tickets"][0]["ticket"] == ticket
    )
    someone_else = _order(server.url, _token(server.url, "hotline"), TRASH, approve=False)
    refused = call(server.url, "ticket_status", {"ticket": someone_else}, headers)
    assert refusal(refused).startswith("not_yours")
    assert refusal(call(server.url, "ticket_status", {"ticket": ticket})).startswith("no_session")
    forged = {SESSION_HEADER: session[:-2] + ("AA" if not session.endswith("AA") else "BB")}
    assert refusal(call(server.url, "ticket_status", {"ticket": ticket}, forged)).startswith(
        "invalid_session"
    )


def test_subsidy_conditions_are_the_published_rule_only(server: ServerThread) -> None:
    rules = data(call(server.url, "subsidy_conditions", {}))["rules"]
    assert rules and {"rule_id", "document", "in_force"} <= set(rules[0])
    rule = data(call(server.url, "subsidy_conditions", {"rule_id": rules[0]["rule_id"]}))
    assert rule["conditions"] and all(c["clause"]["article"] for c in rule["conditions"])
    assert set(rule) <= {"id", "version", "document", "doc_number", "mode", "valid_from", "valid_to"} | {
        "conditions", "exclusions", "benefit", "in_force"
    }  # fmt: skip
    missing = call(server.url, "subsidy_conditions", {"rule_id": "no-such-rule"})
    assert refusal(missing).startswith("rule_not_found")
    assert call(server.url, "subsidy_conditions", {"rule_id": "../../etc/passwd"}).is_error


@pytest.mark.slow  # two server processes (about 25 s each on 2 shared cores)
def test_stdio_serves_the_same_tools_for_whom_its_options_say(staffed_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(staffed_dir, data_dir)
    env = {"CITYAGENT_DATA_DIR": str(data_dir), "CITYAGENT_LLM__BACKEND": "none"}
    secret = build_services(load_settings(data_dir=data_dir, llm={"backend": "none"})).secret
    water, _, _ = issue(secret, "water", ttl_s=600)

    async def run(extra: list[str]) -> tuple[CallToolResult, CallToolResult]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "service.cli", "mcp", *extra], env=env,
            cwd=str(Path(__file__).parents[2]),
        )  # fmt: skip
        async with Client(params) as client:
            found = await client.call_tool("search_policies", {"query": "住房公积金提取", "mode": "bm25"})
            refused = await client.call_tool("dispatch_suggestion", {"ticket": "SL000000000"})
            return found, refused

    found, refused = asyncio.run(run([]))
    assert data(found)["hits"]
    assert refusal(refused).startswith("not_signed_in")
    _, as_staff = asyncio.run(run(["--staff-token", water]))
    assert refusal(as_staff).startswith("order_not_found")  # signed in: the order check answered


def test_calls_count_against_the_chat_limit_per_address(demo_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(demo_dir, tmp_path / "data")
    settings = load_settings(data_dir=tmp_path / "data", llm={"backend": "none"}, chat={"ip_per_minute": 2})
    with ServerThread(create_app(settings)) as limited:
        args = {"query": "公积金", "mode": "bm25"}
        assert not call(limited.url, "search_policies", args).is_error
        call(limited.url, "subsidy_conditions", {})  # no enterprise dictionary here: refused, still counted
        assert refusal(call(limited.url, "search_policies", args)).startswith("rate_limited")


def test_every_text_returned_is_masked() -> None:
    answer = masked({"hits": [{"text": "联系电话13812345678，身份证110101199003071234"}], "k": 3})
    assert "13812345678" not in json.dumps(answer, ensure_ascii=False)
    assert "110101199003071234" not in json.dumps(answer, ensure_ascii=False)
    assert answer["k"] == 3


def test_tool_schemas_snapshot() -> None:
    """What an assistant sees of the tools: a change here is a change to the MCP contract (review it)."""

    def no_services() -> Services:
        raise AssertionError("listing the tools reads no service")

    async def listed() -> list[dict[str, Any]]:
        async with Client(build_mcp_server(no_services)) as client:
            tools = (await client.list_tools()).tools
        return [t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in tools]

    drawn = json.dumps(asyncio.run(listed()), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):  # a deliberate change: rewrite, then review the diff
        TOOLS_SNAPSHOT.write_text(drawn, encoding="utf-8")
    assert TOOLS_SNAPSHOT.exists(), f"missing {TOOLS_SNAPSHOT}: run with UPDATE_SNAPSHOTS=1 and commit it"
    assert drawn == TOOLS_SNAPSHOT.read_text(encoding="utf-8"), "tools changed: UPDATE_SNAPSHOTS=1, review"
