"""The real embedded model (Qwen2.5-Coder-1.5B-Instruct GGUF under llama.cpp): the product's proof.

Marked ``model``: slow-ish (the server starts in ~5 s, each answer takes seconds), run in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from service.app import create_app
from service.settings import load_settings
from tests.conftest import PROJECT
from tools.llm import LLMSettings, OpenAICompatibleClient, tool_spec
from tools.llm.assembly import QWEN25_CODER_15B, assemble
from tools.llm.embedded import EmbeddedServer

pytestmark = pytest.mark.model

MODEL_DIR = PROJECT / "var" / "models"  # shared with `make run`: assembled once per checkout


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Literal["公用事业", "市容环境", "交通运输", "环境保护", "社区治理"]
    urgency: Literal["一般", "紧急", "特急"]
    summary: str = Field(min_length=2, max_length=60)


class Location(BaseModel):
    district: str = Field(description="区，例如 东湖区")
    road: str = Field(description="道路和门牌号，例如 人民路88号")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedServer(LLMSettings(n_ctx=4096), MODEL_DIR, tmp_path_factory.mktemp("logs"))
    url = server.start()
    yield url
    server.stop()


def make_client(url: str) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(LLMSettings(timeout_s=120), url, model="qwen2.5-coder-1.5b-instruct")


async def test_valid_json_answer_to_a_chinese_prompt(base_url: str) -> None:
    llm = make_client(base_url)
    prompt = "市民来电：北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹。请对这条工单分类并概括。"
    result = await llm.structured([{"role": "user", "content": prompt}], Triage)
    assert result.from_model, result.error
    assert isinstance(result.value, Triage)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.value.summary)
    await llm.aclose()


async def test_tool_call_with_chinese_arguments(base_url: str) -> None:
    llm = make_client(base_url)
    result = await llm.chat(
        [{"role": "user", "content": "东湖区人民路88号的路灯坏了，请记录位置。"}],
        tools=[tool_spec("record_location", "记录市民反映问题的位置", Location)],
        tool_choice={"type": "function", "function": {"name": "record_location"}},
    )
    assert result.tool_calls, result.content
    call = result.tool_calls[0]
    assert call.name == "record_location" and call.error is None
    location = Location.model_validate(call.arguments)
    assert "东湖" in location.district
    assert "88" in location.road
    await llm.aclose()


async def test_streamed_chinese_answer(base_url: str) -> None:
    llm = make_client(base_url)
    pieces = [
        p
        async for p in llm.stream(
            [{"role": "user", "content": "用一句话说明什么是垃圾分类。"}], max_tokens=60
        )
    ]
    text = "".join(pieces)
    assert len(pieces) > 3
    assert "垃圾" in text
    await llm.aclose()


def test_service_comes_up_ready_with_the_embedded_model(tmp_path: Path) -> None:
    gguf = assemble(QWEN25_CODER_15B, MODEL_DIR)  # verified once; the app then uses it by path
    settings = load_settings(data_dir=tmp_path, llm={"gguf_path": gguf})
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok"
    assert body["components"]["model"]["status"] == "ok"
    assert "embedded" in body["components"]["model"]["detail"]
