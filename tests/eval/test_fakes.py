"""The one scripted fake model: its signatures are the LLMClient protocol's, and the same script answers
the same way in process (ScriptedLLM) and over HTTP (the real client against FakeOpenAI)."""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from eval.bench.fakes import Reply, Script, ScriptedLLM, ScriptError
from eval.bench.fast_model import FakeOpenAI, cite_first_clause
from tests.tools.test_llm_client import ASK, FALLBACK, Location, Triage
from tools.llm import (
    LLMClient,
    LLMError,
    LLMOutputError,
    LLMSettings,
    LLMUnavailableError,
    OpenAICompatibleClient,
    tool_spec,
)

PROTOCOL = [name for name in vars(LLMClient) if not name.startswith("_")]


def test_the_protocol_is_read_and_has_what_agents_use() -> None:
    assert {"chat", "stream", "structured", "ping", "aclose", "available", "describe"} <= set(PROTOCOL)


@pytest.mark.parametrize("name", PROTOCOL)
def test_the_fake_implements_each_protocol_member_with_its_signature(name: str) -> None:
    wanted = inspect.getattr_static(LLMClient, name)
    given = inspect.getattr_static(ScriptedLLM, name, None)
    assert given is not None, f"ScriptedLLM lacks LLMClient.{name}"
    if isinstance(wanted, property):
        assert isinstance(given, property), f"LLMClient.{name} is a property"
        wanted, given = wanted.fget, given.fget
    assert inspect.signature(given) == inspect.signature(wanted), name
    assert inspect.iscoroutinefunction(given) == inspect.iscoroutinefunction(wanted), name


def test_the_fake_is_an_llm_client() -> None:
    llm = ScriptedLLM()
    assert isinstance(llm, LLMClient) and llm.available and llm.describe == "scripted:fake"


Make = Callable[[Script], LLMClient]


@pytest.fixture(params=["in_process", "http"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """A client answering from a script: the in-process fake, or the real client over the fake server."""
    servers: list[FakeOpenAI] = []
    clients: list[OpenAICompatibleClient] = []

    def build(script: Script) -> LLMClient:
        if request.param == "in_process":
            return ScriptedLLM(script)
        server = FakeOpenAI(script, model="fake").__enter__()
        servers.append(server)
        settings = LLMSettings(backend="vllm", base_url=server.base_url, model="fake", max_retries=0)
        clients.append(OpenAICompatibleClient(settings, server.base_url))
        return clients[-1]

    yield build
    for client in clients:
        await client.aclose()
    for server in servers:
        server.__exit__(None, None, None)


async def test_chat_gives_the_reply_and_counts_one_token_a_character(make: Make) -> None:
    script = Script(["您好，请问有什么可以帮您？"])
    result = await make(script).chat(ASK, temperature=0.3, max_tokens=50)
    assert result.content == "您好，请问有什么可以帮您？" and result.finish_reason == "stop"
    assert result.model == "fake" and not result.tool_calls
    assert result.prompt_tokens == len(ASK[0]["content"]) and result.completion_tokens == len(result.content)
    (call,) = script.calls
    assert call.kind == "chat" and call.messages == ASK and call.reply == Reply("您好，请问有什么可以帮您？")
    assert call.options["temperature"] == 0.3 and call.options["max_tokens"] == 50
    script.check()


async def test_choose_reads_the_first_tokens_probabilities_over_the_choices(make: Make) -> None:
    """是 0.6 + 是的 0.2 against 否 0.1 (an unrelated token aside): 是 0.8/0.9; no log-probs: the token."""
    top = [("是", math.log(0.6)), ("否", math.log(0.1)), ("是的", math.log(0.2)), ("好", math.log(0.05))]
    script = Script([Reply("是", logprobs=top), Reply("否"), Reply("好的")])
    llm = make(script)
    probs = await llm.choose(ASK, ["是", "否"])
    assert probs["是"] == pytest.approx(0.8 / 0.9) and probs["否"] == pytest.approx(0.1 / 0.9)
    assert await llm.choose(ASK, ["是", "否"]) == {"是": 0.0, "否": 1.0}
    with pytest.raises(LLMOutputError, match="none of"):
        await llm.choose(ASK, ["是", "否"])
    assert script.calls[0].options["max_tokens"] == 1


async def test_tool_calls_are_parsed_and_bad_arguments_reported(make: Make) -> None:
    script = Script(
        [
            Reply(tool_calls=[("record_location", '{"district": "东湖区", "address": "人民路88号"}')]),
            Reply(tool_calls=[("record_location", '{"district": "东湖区", ')]),
        ]
    )
    llm = make(script)
    tools = [tool_spec("record_location", "记录位置", Location)]
    good = await llm.chat(ASK, tools=tools)
    bad = await llm.chat(ASK, tools=tools)
    assert good.finish_reason == "tool_calls" and good.tool_calls[0].name == "record_location"
    assert good.tool_calls[0].arguments == {"district": "东湖区", "address": "人民路88号"}
    assert bad.tool_calls[0].arguments == {} and bad.tool_calls[0].error
    assert script.calls[0].options["tools"] == tools


async def test_a_stream_comes_in_pieces_and_a_cut_one_raises_unavailable(make: Make) -> None:
    script = Script([Reply("请拨打12345"), Reply("这是一个很长的回答", drop_after=3)])
    llm = make(script)
    pieces = [p async for p in llm.stream(ASK)]
    assert "".join(pieces) == "请拨打12345" and len(pieces) > 1
    received: list[str] = []
    with pytest.raises(LLMUnavailableError):
        async for piece in llm.stream(ASK):
            received.append(piece)
    assert "".join(received) == "这是一"
    assert [c.kind for c in script.calls] == ["stream", "stream"]


async def test_structured_validates_retries_once_then_falls_back(make: Make) -> None:
    script = Script(
        [
            {"category": "公用事业", "urgency": "特急"},  # valid first time
            '{"category": "交通", "urgency": "紧急"}',  # invalid, then valid on the retry
            Triage(category="公用事业", urgency="紧急"),
            "我不知道",  # invalid twice: the fallback
            '{"urgency": "很急"}',
            "[1, 2",  # invalid twice, no fallback: an error with the raw answer
            "[1, 2",
        ]
    )
    llm = make(script)
    first = await llm.structured(ASK, Triage)
    assert first.value == Triage(category="公用事业", urgency="特急") and first.source == "model"
    retried = await llm.structured(ASK, Triage)
    assert retried.source == "retry" and retried.attempts == 2 and retried.value.urgency == "紧急"
    assert "category" in script.calls[2].messages[-1]["content"]  # the validation error was sent back
    fell = await llm.structured(ASK, Triage, fallback=lambda: FALLBACK)
    assert (
        fell.value == FALLBACK
        and fell.source == "fallback"
        and fell.raw == ("我不知道", '{"urgency": "很急"}')
    )
    with pytest.raises(LLMOutputError) as info:
        await llm.structured(ASK, Triage)
    assert info.value.raw == "[1, 2"
    assert "特急" in script.calls[0].messages[-1]["content"]  # the schema instruction, readable Chinese
    script.check()


async def test_scripted_statuses_fail_as_the_real_server_would(make: Make) -> None:
    llm = make(Script([Reply(status=503), Reply(status=400), Reply(status=503)]))
    with pytest.raises(LLMUnavailableError):
        await llm.chat(ASK)
    with pytest.raises(LLMError) as info:
        await llm.chat(ASK)
    assert not isinstance(info.value, LLMUnavailableError) and "400" in str(info.value)
    fell = await llm.structured(ASK, Triage, fallback=FALLBACK)  # a model that is down: the fallback at once
    assert fell.source == "fallback" and fell.attempts == 1


async def test_a_function_of_the_prompt_answers_after_the_list(make: Make) -> None:
    script = Script(["第一句"], then=lambda messages: f"收到：{messages[-1]['content']}")
    llm = make(script)
    assert (await llm.chat(ASK)).content == "第一句"
    assert (await llm.chat([{"role": "user", "content": "你好"}])).content == "收到：你好"
    script.append("追加的")
    assert (await llm.chat(ASK)).content == "追加的"
    assert (await llm.chat(ASK)).content == f"收到：{ASK[0]['content']}"
    assert len(script.calls) == 4 and len(script) == 0


async def test_a_script_that_runs_out_fails_clearly(make: Make) -> None:
    script = Script(["只有一句"])
    llm = make(script)
    await llm.chat(ASK)
    with pytest.raises((ScriptError, LLMUnavailableError), match="the script ran out: no reply for call #2"):
        await llm.chat(ASK)
    assert script.failures == ["the script ran out: no reply for call #2 (chat)"]
    with pytest.raises(ScriptError, match="ran out"):
        script.check()


async def test_a_reply_of_the_wrong_kind_fails_clearly(make: Make) -> None:
    script = Script([Reply(tool_calls=[("record_location", "{}")]), Reply("半句", drop_after=1)])
    llm = make(script)
    with pytest.raises((ScriptError, LLMUnavailableError), match="has tool calls but the call is 'stream'"):
        async for _ in llm.stream(ASK):
            pass
    with pytest.raises((ScriptError, LLMUnavailableError), match="cuts a stream but the call is 'chat'"):
        await llm.chat(ASK)
    assert len(script.failures) == 2


async def test_tool_calls_to_a_call_without_tools_fail_clearly() -> None:
    llm = ScriptedLLM([Reply(tool_calls=[("record_location", "{}")])])
    with pytest.raises(ScriptError, match="offered no tools"):
        await llm.chat(ASK)


async def test_in_process_an_exception_entry_is_raised_and_a_closed_fake_refuses() -> None:
    llm = ScriptedLLM([LLMUnavailableError("scripted outage"), "好的"])
    with pytest.raises(LLMUnavailableError, match="scripted outage"):
        await llm.chat(ASK)
    assert await llm.ping() == "fake"
    await llm.aclose()
    with pytest.raises(ScriptError, match="after aclose"):
        await llm.chat(ASK)
    assert len(llm.script) == 1


def test_a_single_reply_is_not_mistaken_for_a_script() -> None:
    with pytest.raises(TypeError, match="list of replies"):
        ScriptedLLM("申领居住证需要身份证")  # type: ignore[arg-type]
    with pytest.raises(ScriptError, match="a Reply, str, dict"):
        Script([3.5]).take("chat", ASK, {}, raising=True)  # type: ignore[list-item]


def test_unused_replies_are_reported() -> None:
    script = Script(["用到的", "没用到的"])
    script.take("chat", ASK, {}, raising=True)
    with pytest.raises(ScriptError, match="1 scripted reply unused"):
        script.check()


def test_over_http_an_exception_entry_is_a_clear_500() -> None:
    with FakeOpenAI([LLMUnavailableError("x")]) as server:
        response = httpx.post(f"{server.base_url}/chat/completions", json={"messages": ASK}, timeout=10)
    assert response.status_code == 500 and "script a status" in response.json()["error"]["message"]
    assert server.script.failures and server.requests[0]["messages"] == ASK


def test_the_server_can_stop_and_come_back_on_the_same_port() -> None:
    server = FakeOpenAI(["第一次", "第二次"])
    body: dict[str, Any] = {"messages": ASK}
    with server:
        first = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10).json()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/models", timeout=2)
    with server:
        again = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10).json()
    contents = [r["choices"][0]["message"]["content"] for r in (first, again)]
    assert contents == ["第一次", "第二次"] and server.base_url.endswith(f":{server.port}/v1")


def test_the_bench_model_answers_with_the_first_cited_sentence() -> None:
    prompt = "问题：养狗要办证吗？\n〔某市养犬管理规定 第四条〕第四条 养犬实行登记制度。未经登记不得养犬。\n"
    assert (
        cite_first_clause([{"role": "user", "content": prompt}])
        == "第四条 养犬实行登记制度〔某市养犬管理规定 第四条〕。"
    )
    assert cite_first_clause([{"role": "user", "content": "没有条款"}]) == "资料未涉及"
