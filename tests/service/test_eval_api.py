"""/eval over HTTP with the real app (model backend none): start a run and follow it, compare two runs,
send an audited resident turn to a suite as a draft; evaluators only."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings
from tests.service.conftest import PASSWORD
from tools.audit import AuditLog
from tools.db import DatabaseSettings, make_engine

PHONE = "13812345678"


@pytest.fixture
def data_dir(staffed_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(staffed_dir, tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(data_dir=data_dir, llm={"backend": "none"}))) as c:
        yield c


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"x-csrf-token": response.json()["csrf"]}


def finished(client: TestClient) -> dict[str, Any]:
    """Poll the status until the run ends (a bound on polls, not on time: a loaded machine is slow)."""
    for _ in range(3000):
        status: dict[str, Any] = client.get("/api/eval/status").json()
        if status["state"] != "running":
            return status
        time.sleep(0.1)
    raise AssertionError(f"the run did not end: {status}")


def run(client: TestClient, headers: dict[str, str], suite: str, limit: int) -> dict[str, Any]:
    started = client.post("/api/eval/runs", json={"suite": suite, "limit": limit}, headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "running" and started.json()["total"] == limit
    return finished(client)


def test_only_evaluators_list_suites_or_start_runs(client: TestClient) -> None:
    headers = sign_in(client, "hotline")
    assert client.get("/api/eval/suites").status_code == 403
    assert (
        client.post("/api/eval/runs", json={"suite": "demo_dispatch.v1"}, headers=headers).status_code == 403
    )
    assert (
        client.post("/api/eval/drafts", json={"audit_id": 1, "suite": "a"}, headers=headers).status_code
        == 403
    )
    headers = sign_in(client, "analyst")
    assert (
        client.post("/api/eval/runs", json={"suite": "demo_dispatch.v1"}).status_code == 403
    )  # no CSRF token
    for body in ({"suite": "demo_dispatch.v1", "limit": 0}, {"suite": "demo_dispatch.v1", "path": "/etc"}):
        assert client.post("/api/eval/runs", json=body, headers=headers).status_code == 422
    for name in ("../eval/suites/demo_dispatch.v1", "demo_dispatch.v1.jsonl", "/etc/passwd"):
        refused = client.post("/api/eval/runs", json={"suite": name}, headers=headers)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "suite_not_found"
    assert client.get("/api/eval/status").json()["state"] == "idle"


def test_an_evaluator_runs_a_suite_twice_and_compares_the_runs(client: TestClient, data_dir: Path) -> None:
    headers = sign_in(client, "analyst")
    suites = {s["name"]: s for s in client.get("/api/eval/suites").json()}
    assert suites["demo_dispatch.v1"]["items"] == 200 and suites["demo_dispatch.v1"]["tasks"] == ["dispatch"]
    assert "injection.v1" not in suites  # a bench's format: not runnable here
    first = run(client, headers, "demo_dispatch.v1", 3)
    assert (first["state"], first["done"], first["total"], first["by"]) == ("finished", 3, 3, "analyst")
    report = client.get(first["report"])
    assert report.status_code == 200 and "混淆矩阵" in report.text and "派单部门准确率" in report.text
    second = run(client, headers, "demo_dispatch.v1", 4)
    listed = client.get("/api/eval/runs").json()
    assert [r["run"] for r in listed] == [second["run"], first["run"]]
    assert listed[0]["labels"]["department_accuracy"] == "派单部门准确率"
    page = client.get("/eval/compare", params={"a": first["run"], "b": second["run"]})
    assert page.status_code == 200 and "两次评测运行对比" in page.text
    assert "共有条目 3 条" in page.text and "派单部门准确率" in page.text and "<script" not in page.text
    for a in ("..", "../data", "nope"):
        assert client.get("/eval/compare", params={"a": a, "b": second["run"]}).status_code == 404
    engine = make_engine(DatabaseSettings(), data_dir)
    routes = [r.route for r in AuditLog(engine).records(agent="eval")]
    assert routes.count("eval_run_started") == 2 and routes.count("eval_run_ended") == 2


def test_an_audited_turn_goes_to_a_suite_as_a_masked_draft(client: TestClient, data_dir: Path) -> None:
    message = f"我手机{PHONE}，公积金租房提取每年能提取几次？"
    answer = client.post("/api/chat", json={"message": message, "stream": False})
    assert answer.status_code == 200, answer.text
    headers = sign_in(client, "analyst")
    turns = client.get("/api/eval/turns").json()
    (turn,) = [t for t in turns if "公积金租房提取" in t["question"]]
    assert PHONE not in turn["question"] and turn["retrieved"] > 0
    added = client.post(
        "/api/eval/drafts", json={"audit_id": turn["id"], "suite": "audited"}, headers=headers
    )
    assert added.status_code == 201, added.text
    item = added.json()["item"]
    assert added.json()["suite"] == "drafts/audited" and item["status"] == "draft"
    assert item["id"] == f"audit-{turn['id']}" and PHONE not in item["question"]
    assert item["answer"] and len(item["retrieved"]) == turn["retrieved"]
    assert all(c["title"] and re.match(r"第.+条", c["article"]) and c["text"] for c in item["retrieved"])
    stored = (data_dir / "eval" / "drafts" / "audited.jsonl").read_text(encoding="utf-8")
    assert stored.count("\n") == 1 and PHONE not in stored
    again = client.post(
        "/api/eval/drafts", json={"audit_id": turn["id"], "suite": "audited"}, headers=headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "draft_exists"
    bad = client.post("/api/eval/drafts", json={"audit_id": turn["id"], "suite": "../x"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "suite"
    assert (
        client.post("/api/eval/drafts", json={"audit_id": 999999, "suite": "a"}, headers=headers).status_code
        == 404
    )
    (listed,) = [s for s in client.get("/api/eval/suites").json() if s["name"] == "drafts/audited"]
    assert listed["drafts"] == 1 and listed["items"] == 0
    refused = client.post("/api/eval/runs", json={"suite": "drafts/audited"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unlabelled_drafts"
    assert str(data_dir) not in refused.json()["error"]["message"]  # no server path to the client
