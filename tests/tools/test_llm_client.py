"""The LLM client against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import socket
import time
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from eval.bench.fakes import Reply
from eval.bench.fast_model import FakeOpenAI
from tools.llm import (
    LLMDisabledError,
    LLMError,
    LLMOutputError,
    LLMSettings,
    LLMUnavailableError,
    NullLLMClient,
    OpenAICompatibleClient,
    tool_spec,
)


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Literal["公用事业", "市容环境"]
    urgency: Literal["一般", "紧急", "特急"]


class Location(BaseModel):
    district: str
    address: str = Field(min_length=2)


FALLBACK = Triage(category="市容环境", urgency="一般")
ASK = [{"role": "user", "content": "供水管道爆裂，水漫到路面。"}]


def client(server: FakeOpenAI, **overrides: object) -> OpenAICompatibleClient:
    options: dict[str, object] = {"timeout_s": 5, "max_retries": 1, **overrides}
    settings = LLMSettings(backend="vllm", base_url=server.base_url, **options)
    return OpenAICompatibleClient(settings, server.base_url)


async def test_chat_returns_text_usage_and_model_name() -> None:
    with FakeOpenAI([Reply(content="您好，请问有什么可以帮您？")]) as server:
        result = await client(server).chat([{"role": "user", "content": "你好"}])
    assert result.content == "您好，请问有什么可以帮您？"
    assert result.model == "fake-model"
    assert result.prompt_tokens == len("你好") and result.completion_tokens == len(
        result.content
    )  # the fake's count
    assert server.requests[0]["model"] == "fake-model"  # taken from /v1/models when not configured


async def test_structured_valid_first_time_sends_json_schema_for_vllm() -> None:
    with FakeOpenAI([Reply(content='{"category": "公用事业", "urgency": "特急"}')]) as server:
        result = await client(server).structured(ASK, Triage)
    assert result.value == Triage(category="公用事业", urgency="特急")
    assert result.source == "model"
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"]["urgency"]["enum"] == ["一般", "紧急", "特急"]
    # the schema instruction keeps Chinese readable (ensure_ascii=False)
    assert "特急" in server.requests[0]["messages"][-1]["content"]


async def test_structured_embedded_mode_sends_llama_cpp_schema() -> None:
    with FakeOpenAI([Reply(content='{"category": "公用事业", "urgency": "紧急"}')]) as server:
        settings = LLMSettings(backend="embedded", timeout_s=5)
        result = await OpenAICompatibleClient(settings, server.base_url).structured(ASK, Triage)
    assert result.from_model
    assert server.requests[0]["response_format"]["type"] == "json_object"
    assert "schema" in server.requests[0]["response_format"]


async def test_structured_repairs_fences_prose_and_trailing_commas() -> None:
    answer = '好的，结果如下：\n```json\n{"category": "公用事业", "urgency": "紧急",}\n```'
    with FakeOpenAI([Reply(content=answer)]) as server:
        result = await client(server).structured(ASK, Triage)
    assert result.value.urgency == "紧急"
    assert result.source == "model"
    assert len(server.requests) == 1


async def test_structured_retries_once_with_the_validation_error() -> None:
    script = [
        Reply(content='{"category": "交通", "urgency": "紧急"}'),
        Reply(content='{"category": "公用事业", "urgency": "紧急"}'),
    ]
    with FakeOpenAI(script) as server:
        result = await client(server).structured(ASK, Triage)
    assert result.source == "retry"
    assert result.attempts == 2
    assert len(result.raw) == 2
    retry_messages = server.requests[1]["messages"]
    assert retry_messages[-2] == {"role": "assistant", "content": '{"category": "交通", "urgency": "紧急"}'}
    assert "category" in retry_messages[-1]["content"]  # the error names the field


async def test_structured_falls_back_after_two_bad_answers() -> None:
    with FakeOpenAI([Reply(content="我不知道"), Reply(content='{"urgency": "很急"}')]) as server:
        result = await client(server).structured(ASK, Triage, fallback=FALLBACK)
    assert result.value == FALLBACK
    assert result.source == "fallback"
    assert result.error and "urgency" in result.error
    assert result.raw == ("我不知道", '{"urgency": "很急"}')


async def test_structured_without_fallback_raises_with_the_raw_answer() -> None:
    with FakeOpenAI([Reply(content="[1, 2"), Reply(content="[1, 2")]) as server:
        with pytest.raises(LLMOutputError) as info:
            await client(server).structured(ASK, Triage)
    assert info.value.raw == "[1, 2"


async def test_tool_calls_are_parsed_and_bad_arguments_reported() -> None:
    script = [
        Reply(tool_calls=[("record_location", '{"district": "东湖区", "address": "人民路88号"}')]),
        Reply(tool_calls=[("record_location", '{"district": "东湖区", ')]),
    ]
    tools = [tool_spec("record_location", "记录位置", Location)]
    with FakeOpenAI(script) as server:
        llm = client(server)
        good = await llm.chat(ASK, tools=tools)
        bad = await llm.chat(ASK, tools=tools)
    assert good.tool_calls[0].name == "record_location"
    assert good.tool_calls[0].arguments == {"district": "东湖区", "address": "人民路88号"}
    assert good.finish_reason == "tool_calls"
    assert server.requests[0]["tools"][0]["function"]["parameters"]["required"] == ["district", "address"]
    assert server.requests[0]["tool_choice"] == "auto"
    assert bad.tool_calls[0].arguments == {}
    assert bad.tool_calls[0].error


async def test_server_errors_are_retried_a_bounded_number_of_times() -> None:
    with FakeOpenAI([Reply(status=500), Reply(status=503), Reply(content="不会到这里")]) as server:
        with pytest.raises(LLMUnavailableError, match=r"127\.0\.0\.1"):
            await client(server, max_retries=1).chat(ASK)
    assert len(server.requests) == 2  # one try plus one retry


async def test_a_refused_request_is_an_error_not_unavailability() -> None:
    with FakeOpenAI([Reply(status=400)]) as server:
        with pytest.raises(LLMError) as info:
            await client(server).chat(ASK)
    assert not isinstance(info.value, LLMUnavailableError)
    assert "400" in str(info.value)


async def test_unreachable_backend_fails_fast_with_a_clear_message() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    url = f"http://127.0.0.1:{port}/v1"
    settings = LLMSettings(backend="vllm", base_url=url, model="m", max_retries=1, connect_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match=f"127.0.0.1:{port}"):
        await OpenAICompatibleClient(settings, url).chat(ASK)
    assert time.monotonic() - started < 10


async def test_unreachable_backend_gives_the_fallback_for_structured_output() -> None:
    url = "http://127.0.0.1:9/v1"
    settings = LLMSettings(backend="vllm", base_url=url, model="m", max_retries=0, connect_timeout_s=1)
    result = await OpenAICompatibleClient(settings, url).structured(ASK, Triage, fallback=lambda: FALLBACK)
    assert result.source == "fallback"
    assert result.error and "did not answer" in result.error


async def test_slow_answer_times_out() -> None:
    with FakeOpenAI([Reply(content="迟到", delay_s=3)]) as server:
        with pytest.raises(LLMUnavailableError):
            await client(server, timeout_s=0.5, max_retries=0).chat(ASK)


async def test_streaming_yields_text_pieces() -> None:
    with FakeOpenAI([Reply(content="请拨打12345")]) as server:
        pieces = [p async for p in client(server).stream(ASK)]
    assert "".join(pieces) == "请拨打12345"
    assert len(pieces) > 1


async def test_stream_cut_mid_answer_raises_unavailable() -> None:
    with FakeOpenAI([Reply(content="这是一个很长的回答" * 5, drop_after=3)]) as server:
        received: list[str] = []
        with pytest.raises(LLMUnavailableError):
            async for piece in client(server, max_retries=0).stream(ASK):
                received.append(piece)
    assert "".join(received) == "这是一"


async def test_ping_reports_the_served_model() -> None:
    with FakeOpenAI(model="Qwen2.5-7B-Instruct") as server:
        assert await client(server).ping() == "Qwen2.5-7B-Instruct"


async def test_null_client_refuses_chat_and_returns_fallbacks() -> None:
    llm = NullLLMClient(disabled=True)
    assert not llm.available
    with pytest.raises(LLMDisabledError):
        await llm.chat(ASK)
    with pytest.raises(LLMDisabledError):
        async for _ in llm.stream(ASK):
            pass
    result = await llm.structured(ASK, Triage, fallback=FALLBACK)
    assert result.value == FALLBACK and result.source == "fallback"
    with pytest.raises(LLMDisabledError):
        await llm.structured(ASK, Triage)
