"""``/api/chat`` over HTTP: the event stream, the JSON form, the session cookie, limits, history.

The app runs with its real services on the demo documents (BM25 only: no dense vectors are
needed to find the passages these questions name) and no model, so answers are the
degraded, verbatim ones; the scripted-model behaviour is tested in tests/agents.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.routers.chat import COOKIE
from service.settings import load_settings


@pytest.fixture
def data_dir(demo_dir: Path, tmp_path: Path) -> Path:
    """A copy per test: conversations and orders of one test do not meet another's."""
    shutil.copytree(demo_dir, tmp_path / "data")
    return tmp_path / "data"


def make_client(data_dir: Path, **chat: Any) -> TestClient:
    settings = load_settings(
        data_dir=data_dir, llm={"backend": "none"}, chat={"min_bm25_score": 12.0, **chat}
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with make_client(data_dir) as c:
        yield c


def events(body: str) -> list[tuple[str, Any]]:
    out = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_a_streamed_answer_carries_tokens_the_answer_and_its_citations(client: TestClient) -> None:
    response = client.post("/api/chat", json={"message": "公积金租房提取每年能提取几次？"})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert COOKIE in response.cookies
    stream = events(response.text)
    kinds = [kind for kind, _ in stream]
    assert kinds[0] == "session" and kinds[-1] == "done"
    assert kinds.index("token") < kinds.index("answer") < kinds.index("citations")
    citations = dict(stream)["citations"]
    assert citations[0]["citation"].startswith("〔示例市住房公积金提取管理办法 第")
    assert all(c["text"] in dict(stream)["answer"]["text"] for c in citations)


def test_the_stream_says_what_it_is_doing_before_the_answer(client: TestClient) -> None:
    stream = events(client.post("/api/chat", json={"message": "公积金租房提取每年能提取几次？"}).text)
    kinds = [kind for kind, _ in stream]
    steps = [data for kind, data in stream if kind == "progress"]
    assert [s["stage"] for s in steps] == ["looking", "found", "writing"]
    assert kinds[1] == "progress"  # right after the session: the looking-up line
    assert max(i for i, k in enumerate(kinds) if k == "progress") < kinds.index("token")
    found = steps[1]
    assert found["clauses"] >= 1 and "示例市住房公积金提取管理办法" in found["documents"]
    assert found["text"].startswith(f"找到 {found['clauses']} 条相关条款，来自《")
    reply = client.post("/api/chat", json={"message": "你好", "stream": False}).json()
    assert reply["route"] == "greeting"  # the JSON form carries no progress, and nothing is lost


def test_the_json_form_and_the_history_of_the_session(client: TestClient) -> None:
    first = client.post(
        "/api/chat", json={"message": "建设路98号井盖破损了，今天早上发现的", "stream": False}
    )
    assert first.status_code == 200 and first.json()["route"] == "report"
    filed = client.post("/api/chat", json={"message": "确认", "stream": False}).json()
    assert filed["ticket"] and filed["ticket"] in filed["answer"]
    history = client.get("/api/chat/history").json()
    assert history["tickets"] == [filed["ticket"]]
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"] * 2
    assert history["messages"][-1]["ticket"] == filed["ticket"]


def test_a_conversation_continues_after_a_restart(data_dir: Path) -> None:
    with make_client(data_dir) as before:
        before.post("/api/chat", json={"message": "小区路灯坏了好几天了", "stream": False})
        cookie = before.cookies[COOKIE]
    with make_client(data_dir) as after:
        after.cookies.set(COOKIE, cookie)
        reply = after.post("/api/chat", json={"message": "幸福路12号", "stream": False}).json()
    assert reply["route"] == "report" and "幸福路12号" in reply["answer"] and "请确认" in reply["answer"]


def test_an_oversized_message_is_refused_with_the_field_named(client: TestClient) -> None:
    response = client.post("/api/chat", json={"message": "长" * 1001})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "message_too_long"
    assert response.json()["error"]["field"] == "message"
    empty = client.post("/api/chat", json={"message": "   "})
    assert empty.status_code == 422


def test_sessions_are_rate_limited(data_dir: Path) -> None:
    with make_client(data_dir, session_per_minute=2) as c:
        codes = [c.post("/api/chat", json={"message": "你好", "stream": False}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert "秒后再试" in c.post("/api/chat", json={"message": "你好"}).json()["error"]["message"]


def test_reset_starts_a_new_conversation(client: TestClient) -> None:
    client.post("/api/chat", json={"message": "你好", "stream": False})
    old = client.cookies[COOKIE]
    assert client.post("/api/chat/reset").status_code == 204
    assert client.cookies[COOKIE] != old
    assert client.get("/api/chat/history").json()["messages"] == []


def test_metrics_count_requests_turns_and_errors(client: TestClient) -> None:
    client.post("/api/chat", json={"message": "你好", "stream": False})
    client.post("/api/chat", json={"message": "长" * 1001})
    text = client.get("/metrics").text
    assert 'cityagent_http_requests_total{method="POST",route="/api/chat",status="200"} 1.0' in text
    assert 'cityagent_chat_turns_total{route="greeting"} 1.0' in text
    assert 'cityagent_errors_total{code="message_too_long"} 1.0' in text
    assert "cityagent_chat_in_flight 0.0" in text


def test_metrics_need_the_token_when_one_is_set(data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir, llm={"backend": "none"}, server={"metrics_token": "m" * 32})
    with TestClient(create_app(settings)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"authorization": f"Bearer {'m' * 32}"}).status_code == 200
