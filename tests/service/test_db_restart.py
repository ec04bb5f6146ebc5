"""The database restarts under a running service (PostgreSQL behind a proxy that is cut, then restored).

While it is gone: order creation answers 503 ``database_unavailable`` saying nothing was saved,
/readyz reports the database down, and the chat says it is unavailable. When it is back: the
service recovers by itself, every acknowledged order is there, retries with the same key give the
same ticket, and the resident's half-filed report continues where it stopped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eval.bench.fast_model import ServerThread
from service.app import create_app
from service.settings import load_settings
from tests.pg import schema_url, throwaway_schema
from tests.service.conftest import PASSWORD
from tests.service.test_faults import events
from tests.tcp_proxy import TcpProxy
from tools.db import DatabaseSettings, make_engine, migrate
from tools.users import UserStore


@pytest.fixture
def schema() -> Iterator[str]:
    with throwaway_schema("restart") as name:
        yield name


def say(client: httpx.Client, message: str) -> dict[str, Any]:
    response = client.post("/api/chat", json={"message": message})
    if response.headers.get("content-type", "").startswith("application/json"):
        return {"status": response.status_code, **response.json()}
    found: dict[str, Any] = {"status": response.status_code}
    for kind, data in events(response):
        found.setdefault(kind, data)
    return found


def wait_ready(client: httpx.Client, component: str, status: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/readyz").json()["components"][component]["status"] != status:
        assert time.monotonic() < deadline, f"{component} never became {status}"
        time.sleep(0.2)


def test_a_database_restart_loses_no_order_and_no_conversation(
    demo_dir: Path, tmp_path: Path, schema: str
) -> None:
    direct = make_engine(DatabaseSettings(url=schema_url(schema)), tmp_path)
    migrate(direct)
    UserStore(direct).add("hotline", PASSWORD, ["caseworker"], [])
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = schema_url(schema, f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test")
        settings = load_settings(
            data_dir=data, llm={"backend": "none"}, database={"url": url, "connect_timeout_s": 2},
            chat={"checkpoint_url": url.replace("+psycopg", "")},
        )  # fmt: skip
        with (
            ServerThread(create_app(settings)) as service,
            httpx.Client(base_url=service.url, timeout=30) as staff,
            httpx.Client(base_url=service.url, timeout=30) as resident,
        ):
            bearer = staff.post("/api/auth/login", json={"username": "hotline", "password": PASSWORD})
            staff.headers["authorization"] = f"Bearer {bearer.json()['token']}"

            def create(key: str) -> httpx.Response:
                body = {"text": f"幸福路{key}号井盖缺失，有安全隐患", "client_key": f"restart-{key}"}
                return staff.post("/api/orders", json=body)

            acknowledged = {f"k{i}": create(f"k{i}").json()["ticket"] for i in range(5)}
            assert say(resident, "幸福路12号的路灯坏了")["answer"]["route"] == "report"

            proxy.cut()  # the database goes away mid-service
            refused = create("k5")
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "database_unavailable"
            assert "nothing was saved" in refused.json()["error"]["message"]
            wait_ready(staff, "database", "down")
            during = say(resident, "昨天晚上")
            assert during["error"]["code"] == "storage_unavailable"  # said plainly, not a hang or a 500
            assert "您的消息未处理" in during["error"]["message"]

            proxy.restore()  # the database is back; the service is not restarted
            wait_ready(staff, "database", "ok")
            assert create("k5").status_code == 201
            again = create("k0")
            assert again.status_code == 200 and again.json()["ticket"] == acknowledged["k0"]
            confirm = say(resident, "昨天晚上")["answer"]["text"]
            assert "幸福路12号" in confirm and "请确认" in confirm  # the report resumed where it stopped
            filed = say(resident, "确认")
            assert filed["ticket"]["ticket"].startswith("SL")
            orders = staff.get("/api/orders?limit=100").json()["orders"]
    tickets = {o["ticket"] for o in orders}
    assert set(acknowledged.values()) <= tickets and len(orders) == 7  # 6 created + 1 filed by chat
    direct.dispose()
