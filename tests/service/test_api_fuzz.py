"""Schemathesis against the OpenAPI spec, signed in as an admin: no request makes the service answer 5xx.

It runs the schemathesis CLI against the service on loopback (its pytest plugin does not load
with this pytest).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from eval.bench.fast_model import ServerThread
from service.app import create_app
from service.settings import load_settings
from tests.service.conftest import PASSWORD

ST = Path(sys.executable).with_name("st")


def test_no_request_makes_a_server_error(staffed_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(staffed_dir, data)
    limits = {"session_per_minute": 10**6, "ip_per_minute": 10**6}
    settings = load_settings(data_dir=data, llm={"backend": "none"}, chat=limits)
    with ServerThread(create_app(settings)) as service:
        login = httpx.post(f"{service.url}/api/auth/login", json={"username": "boss", "password": PASSWORD})
        token = login.json()["token"]
        command = [
            str(ST), "run", f"{service.url}/openapi.json", "--checks", "not_a_server_error",
            "--max-examples", "8", "--workers", "1", "--seed", "1", "-H", f"Authorization: Bearer {token}",
            "--request-timeout", "60",  # a slow answer on a loaded machine is not a server error; a hang is
            "--exclude-path", "/api/auth/login",  # fuzzing sign-in only trips its rate limit
        ]  # fmt: skip
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed\n", run.stdout)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 300, run.stdout[-1500:]
