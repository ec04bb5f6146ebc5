"""Several API workers on one port over PostgreSQL: the tested scale-out configuration.

`cityagent serve --workers 2` runs with work orders, users, audit and conversation checkpoints in
PostgreSQL, the model as a shared server setting (none here) and the vector store as a Qdrant
server: CITYAGENT_TEST_QDRANT_URL when one is reachable, else an address where none answers (no
Qdrant server installs on these machines), and then retrieval is reported down and degrades.
Requests spread over both processes; a staff token from one works on the other; idempotent
creations sent to both make no duplicates; a resident's report continues across workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.pg import schema_url, throwaway_schema
from tests.service.conftest import PASSWORD
from tests.service.test_crash import _port
from tests.service.test_db_restart import say
from tools.db import DatabaseSettings, make_engine, migrate
from tools.users import UserStore


@pytest.fixture
def schema() -> Iterator[str]:
    with throwaway_schema("scale") as name:
        yield name


def test_workers_are_refused_without_shared_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code != 0
    for needed in ("database.url", "chat.checkpoint_url", "vector_store.mode=edge", "llm.backend=embedded"):
        assert needed in result.output


def test_two_workers_share_orders_sessions_and_conversations(tmp_path: Path, schema: str) -> None:
    url = schema_url(schema)
    engine = make_engine(DatabaseSettings(url=url), tmp_path)
    migrate(engine)
    UserStore(engine).add("hotline", PASSWORD, ["caseworker"], [])
    engine.dispose()
    qdrant = os.environ.get("CITYAGENT_TEST_QDRANT_URL") or f"http://127.0.0.1:{_port()}"
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYAGENT_")}
    env.update(
        CITYAGENT_DATA_DIR=str(tmp_path / "data"), CITYAGENT_LLM__BACKEND="none",
        CITYAGENT_DATABASE__URL=url, CITYAGENT_CHAT__CHECKPOINT_URL=url.replace("+psycopg", ""),
        CITYAGENT_VECTOR_STORE__MODE="server", CITYAGENT_VECTOR_STORE__URL=qdrant,
        CITYAGENT_VECTOR_STORE__TIMEOUT_S="2", CITYAGENT_CHAT__IP_PER_MINUTE="1000",
    )  # fmt: skip
    cli = Path(sys.executable).with_name("cityagent")
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def worker() -> int | None:
        try:
            return int(httpx.get(f"{base}/healthz", timeout=5).json()["worker"])
        except httpx.HTTPError:
            return None

    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 240  # each worker imports the whole stack; slow on a loaded machine
        while len(pids) < 2:  # both workers up (new connections are spread over the processes)
            assert time.monotonic() < deadline, f"only workers {pids} answered:\n{log.read_text()[-3000:]}"
            with ThreadPoolExecutor(8) as pool:
                pids |= {pid for pid in pool.map(lambda _: worker(), range(16)) if pid}
            time.sleep(0.3)
        login = httpx.post(f"{base}/api/auth/login", json={"username": "hotline", "password": PASSWORD})
        bearer = {"authorization": f"Bearer {login.json()['token']}"}

        def create(i: int) -> tuple[int, str, int]:
            body = {"text": f"幸福路{i % 20}号井盖缺失", "client_key": f"scale-out-{i % 20:04d}"}
            with httpx.Client(base_url=base, headers=bearer, timeout=30) as c:  # a new connection each
                response = c.post("/api/orders", json=body)
                worker = c.get("/healthz").json()["worker"]
            return response.status_code, response.json()["ticket"], worker

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(create, range(60)))  # 20 keys, each sent 3 times
        assert {status for status, _, _ in results} <= {200, 201}
        assert len({ticket for _, ticket, _ in results}) == 20  # one order per key across workers
        assert len({worker for _, _, worker in results}) == 2
        listed = httpx.get(f"{base}/api/orders?limit=100", headers=bearer).json()["orders"]
        assert len(listed) == 20

        def report(n: int) -> tuple[str, set[int]]:
            """One resident files a report in three turns, each on a new connection; the workers."""
            cookies: httpx.Cookies | None = None
            served: set[int] = set()
            for message in (f"幸福路{n}号的路灯坏了", "昨天晚上", "确认"):
                with httpx.Client(base_url=base, timeout=30, cookies=cookies) as c:
                    reply = say(c, message)
                    served.add(c.get("/healthz").json()["worker"])  # same connection, same worker
                    cookies = c.cookies
            return reply["ticket"]["ticket"], served

        for n in range(10):  # until a conversation has been served by both workers
            ticket, served = report(n)
            assert ticket.startswith("SL")
            if len(served) == 2:
                break
        assert len(served) == 2
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["components"]["database"]["status"] == "ok"
        if "CITYAGENT_TEST_QDRANT_URL" not in os.environ:
            assert ready["components"]["vector_store"]["status"] == "down"
    finally:
        process.terminate()
        process.wait(timeout=30)
