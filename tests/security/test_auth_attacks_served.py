"""Issue 14, findings 5 and 10, replayed on the service as ``cityagent serve`` runs it (real uvicorn).

uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise, which is how a local
client rotated its address; and its access formatter unpacks ``record.args``, which the masking
filter used to destroy (no access line, a "--- Logging error ---" per request).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.container import build_services
from service.settings import load_settings
from tests.conftest import PROJECT
from tools.db import migrate
from tools.users import UserStore


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, the server's output) of ``serve`` on loopback with a login limit of 3 a minute."""
    root = tmp_path_factory.mktemp("served")
    services = build_services(load_settings(data_dir=root / "data", llm={"backend": "none"}))
    migrate(services.engine)
    UserStore(services.engine).add("hotline", "correct-horse-battery", ["caseworker"])
    services.engine.dispose()
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYAGENT_")}
    env.update(
        CITYAGENT_DATA_DIR=str(root / "data"), CITYAGENT_LLM__BACKEND="none",
        CITYAGENT_AUTH__LOGIN_PER_MINUTE="3", CITYAGENT_AUTH__ACCOUNT_LOGIN_PER_MINUTE="100",
        PYTHONPATH=str(PROJECT),
    )  # fmt: skip
    log = root / "serve.log"
    command = [sys.executable, "-c", "from service.cli import main; main()",
               "serve", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=PROJECT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_rotating_x_forwarded_for_over_loopback_gives_no_more_logins(served: tuple[str, Path]) -> None:
    base, log = served
    codes = []
    for i in range(5):
        response = httpx.post(
            f"{base}/api/auth/login", json={"username": "hotline", "password": "wrong-password"},
            headers={"x-forwarded-for": f"203.0.113.{i}", "x-real-ip": f"198.51.100.{i}"},
        )  # fmt: skip
        codes.append(response.status_code)
    assert codes == [401, 401, 401, 429, 429]
    assert response.json()["error"]["code"] == "rate_limited" and int(response.headers["retry-after"]) >= 1
    time.sleep(0.5)
    lines = [line for line in log.read_text().splitlines() if "/api/auth/login" in line]
    assert lines and all("203.0.113." not in line and "127.0.0.1" in line for line in lines)


def test_access_lines_are_written_and_masked(served: tuple[str, Path]) -> None:
    base, log = served
    for _ in range(3):
        assert httpx.get(
            f"{base}/healthz", params={"phone": "13812345678", "id": "110101199003074518"}
        ).is_success
    time.sleep(0.5)
    text = log.read_text()
    access = [line for line in text.splitlines() if "GET /healthz?phone=" in line]
    assert len(access) >= 3, text[-3000:]
    assert all("138****5678" in line and "110101********4518" in line and "200" in line for line in access)
    assert "13812345678" not in text and "110101199003074518" not in text
    assert "Logging error" not in text and "Traceback" not in text
