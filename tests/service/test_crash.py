"""SIGKILL during a burst of order creations: nothing acknowledged is lost, and retries make no duplicates."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.service.conftest import PASSWORD

BURST = 300


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    """``cityagent serve`` in its own process (so it can be killed like a real one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYAGENT_")}
    env.update(CITYAGENT_DATA_DIR=str(data), CITYAGENT_LLM__BACKEND="none")
    cli = Path(sys.executable).with_name("cityagent")
    process = subprocess.Popen(  # our own console script
        [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the service did not start")


def token(port: int) -> str:
    login = httpx.post(
        f"http://127.0.0.1:{port}/api/auth/login", json={"username": "boss", "password": PASSWORD}
    )
    return str(login.json()["token"])


def create_all(
    port: int, bearer: str, keys: list[str], kill: tuple[int, Callable[[], None]] | None = None
) -> dict[str, str]:
    """Send the creations from 16 threads; the key → ticket of every one acknowledged.

    ``kill``: (n, action) runs the action once n creations have been acknowledged.
    """
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()

    def one(key: str) -> None:
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/orders", timeout=30,
                json={"text": f"幸福路{key[-3:]}号路灯坏了，晚上很黑", "client_key": key},
                headers={"authorization": f"Bearer {bearer}"},
            )  # fmt: skip
        except httpx.HTTPError:
            return  # the server died under this request: not acknowledged
        if response.status_code in (200, 201):
            with lock:
                acknowledged[key] = response.json()["ticket"]
                if kill and len(acknowledged) == kill[0]:
                    kill[1]()

    with ThreadPoolExecutor(16) as pool:
        for key in keys:
            pool.submit(one, key)
    return acknowledged


def test_a_crash_mid_burst_loses_nothing_acknowledged(staffed_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(staffed_dir, data)
    port = _port()
    keys = [f"crash-test-{n:04d}" for n in range(BURST)]
    first = serve(data, port)
    bearer = token(port)
    acknowledged = create_all(port, bearer, keys, kill=(60, lambda: first.send_signal(signal.SIGKILL)))
    first.wait(timeout=10)
    assert 0 < len(acknowledged) < BURST, "the kill should land in the middle of the burst"

    second = serve(data, port)
    try:
        bearer = token(port)
        client = httpx.Client(  # an order's detail embeds its text: slow on a loaded machine
            base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {bearer}"}, timeout=60
        )
        for ticket in acknowledged.values():
            assert client.get(f"/api/orders/{ticket}").status_code == 200, ticket
        retried = create_all(port, bearer, keys)  # the client retries everything it sent
        assert len(retried) == BURST
        assert all(
            retried[key] == ticket for key, ticket in acknowledged.items()
        )  # same order, not a new one
        listed = client.get("/api/orders", params={"limit": 200}).json()["orders"]
        listed += client.get("/api/orders", params={"limit": 200, "offset": 200}).json()["orders"]
        assert len({o["ticket"] for o in listed}) == BURST  # exactly one order per client key
    finally:
        second.kill()
        second.wait(timeout=10)
