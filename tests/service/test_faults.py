"""Faults the chat survives without a restart: the model dying mid-answer or gone, or too busy; the vector
store locked.

The service runs over HTTP on loopback with a scripted model server; the index is the demo city's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from eval.bench.fakes import Reply
from eval.bench.fast_model import FakeOpenAI, ServerThread
from service.app import create_app
from service.container import build_services
from service.settings import load_settings

ANSWER = "资料齐全的，租房提取实行“秒批”〔示例市住房公积金提取管理办法 第六条〕。"
QUESTION = "公积金租房提取多久能办好？"


def events(response: httpx.Response) -> list[tuple[str, Any]]:
    out = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def ask(client: httpx.Client) -> dict[str, Any]:
    stream = events(client.post("/api/chat", json={"message": QUESTION}))
    found: dict[str, Any] = {}
    for kind, data in stream:
        found.setdefault(kind, data)
    found["kinds"] = [kind for kind, _ in stream]
    return found


def test_the_model_dying_mid_answer_then_gone_then_back(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    model = FakeOpenAI([Reply("是"), Reply(ANSWER, drop_after=5)])  # the judge's 是, then the answer
    model.__enter__()
    settings = load_settings(
        data_dir=data, llm={"backend": "vllm", "base_url": model.base_url, "max_retries": 0}
    )
    with (
        ServerThread(create_app(settings)) as service,
        httpx.Client(base_url=service.url, timeout=60) as client,
    ):
        cut = ask(client)  # the stream breaks after 5 characters
        assert cut["error"]["code"] == "model_unavailable"
        assert cut["kinds"].index("error") < cut["kinds"].index("answer")
        assert "第六条 申请人可以通过公积金中心网站" in cut["answer"]["text"]  # the clause, verbatim
        assert cut["citations"][0]["citation"] == "〔示例市住房公积金提取管理办法 第六条〕"

        model.__exit__(None, None, None)  # the model server is gone
        gone = ask(client)
        assert "第六条 申请人可以通过公积金中心网站" in gone["answer"]["text"] and gone["citations"]
        assert client.get("/readyz").json()["components"]["model"]["status"] == "down"

        model.script.extend([Reply("是"), Reply(ANSWER)])
        with model:  # the same server back on its port
            deadline = time.monotonic() + 20
            while client.get("/readyz").json()["components"]["model"]["status"] != "ok":
                assert time.monotonic() < deadline, "readiness never saw the model come back"
                time.sleep(0.2)
            normal = ask(client)
        assert "error" not in normal and normal["answer"]["text"].startswith("资料齐全的，租房提取实行")
    model.script.check()  # each scripted reply was asked for, and nothing more


LOCKER = """
import sys, time
from knowledge.config import VectorStoreSettings
from knowledge.index import open_index
index = open_index(VectorStoreSettings(), __import__("pathlib").Path(sys.argv[1]))
index.ensure(int(sys.argv[2]))  # the dimension of the configured embedder
print("locked", flush=True)
time.sleep(60)
"""


def test_a_locked_vector_store_is_reported_and_recovers(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    settings = load_settings(data_dir=data, llm={"backend": "none"})
    dim = build_services(settings).embedder.dim
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(data / "index"), str(dim)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        with (
            ServerThread(create_app(settings)) as service,
            httpx.Client(base_url=service.url, timeout=60) as client,
        ):
            locked = ask(client)
            assert (
                locked["error"]["code"] == "retrieval_unavailable" and "12345" in locked["error"]["message"]
            )
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["components"]["vector_store"]["status"] == "down"
            report = client.post(
                "/api/chat", json={"message": "幸福路12号路灯坏了，昨天晚上发现的", "stream": False}
            )
            assert report.json()["route"] == "report"  # reports do not need the index
            locker.kill()
            locker.wait()
            recovered = ask(client)
        assert "error" not in recovered and recovered["citations"]
    finally:
        locker.kill()


def test_a_busy_model_queues_turns_in_order_and_turns_away_the_ones_that_wait_too_long(
    demo_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    with FakeOpenAI([Reply("是", delay_s=1.2), Reply(ANSWER)]) as model:  # the judge holds the one slot
        llm = {"backend": "vllm", "base_url": model.base_url, "max_retries": 0, "max_concurrent": 1,
               "queue_timeout_s": 0.5}  # fmt: skip
        settings = load_settings(data_dir=data, llm=llm, chat={"ip_per_minute": 1000})
        with ServerThread(create_app(settings)) as service:
            clients = [httpx.Client(base_url=service.url, timeout=60) for _ in range(3)]
            with ThreadPoolExecutor(3) as pool:
                results = list(pool.map(ask, clients))
            metrics = clients[0].get("/metrics").text
            for c in clients:
                c.close()
    answered = [r for r in results if "error" not in r]
    busy = [r for r in results if r.get("error", {}).get("code") == "model_busy"]
    assert len(answered) == 1 and len(busy) == 2  # one slot: the others waited 0.5 s and gave up
    for r in busy:  # a clear message, then the clauses verbatim: nothing is lost, nothing piles up
        assert "当前咨询人数较多" in r["error"]["message"]
        assert "第六条 申请人可以通过公积金中心网站" in r["answer"]["text"] and r["citations"]
    # the waiting turns never reached the model: they gave up in the queue (once: a judge turned away
    # does not queue the answer again), and only the first turn's judge and answer were asked
    chats = [r for r in model.requests if "messages" in r]
    assert len(chats) == 2 and chats[0]["max_tokens"] == 1 and chats[1]["stream"]
    assert 'cityagent_model_turned_away_total{reason="queue_timeout"} 2.0' in metrics
    assert 'cityagent_chat_degraded_total{reason="model_busy"} 2.0' in metrics
