"""The dispatch agent in the service: proposals prepared in the background, reviews that never wait, audit."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from eval.bench.fakes import Reply
from eval.bench.fast_model import FakeOpenAI
from service.app import create_app
from service.settings import load_settings
from tests.service.test_orders_api import create, sign_in
from tools.audit import AuditLog
from tools.db import DatabaseSettings, make_engine

VAGUE = "我要反映一个问题，请尽快处理"  # below the review threshold: the model adjudicates


@pytest.fixture
def data_dir(staffed_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(staffed_dir, tmp_path / "data")
    return tmp_path / "data"


def _client(data_dir: Path, model: FakeOpenAI | None) -> TestClient:
    llm: dict[str, Any] = (
        {"backend": "vllm", "base_url": model.base_url, "max_retries": 0, "timeout_s": 300}
        if model
        else {"backend": "none"}
    )
    return TestClient(create_app(load_settings(data_dir=data_dir, llm=llm)))


def _until(check: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    """Poll a background effect (bounded: a hang fails the test, the time is not the assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _audit(data_dir: Path, ticket: str) -> list[Any]:
    engine = make_engine(DatabaseSettings(), data_dir)
    try:
        return list(reversed(list(AuditLog(engine).records(thread=ticket))))
    finally:
        engine.dispose()


def _second_candidate(client: TestClient, ticket: str) -> tuple[str, str]:
    departments = client.get(f"/api/orders/{ticket}").json()["suggestion"]["departments"]
    return departments[0]["department"], departments[1]["department"]


@pytest.fixture
def adjudicating(data_dir: Path) -> Iterator[tuple[TestClient, FakeOpenAI]]:
    down = Reply(status=503)  # the first (probe) order's adjudication: the model is down, so it falls back
    with FakeOpenAI([down]) as model, _client(data_dir, model) as client:
        yield client, model


def test_the_model_adjudicates_in_the_background_and_approve_sends_what_was_shown(
    adjudicating: tuple[TestClient, FakeOpenAI], data_dir: Path
) -> None:
    client, model = adjudicating
    headers = sign_in(client, "hotline")
    first = create(client, headers, text=VAGUE + "。")["ticket"]
    top, second = _second_candidate(client, first)
    _until(lambda: model.requests, "the first order's adjudication reached the model")
    answer = json.dumps({"choice": second, "reason": "管网维修归其负责"}, ensure_ascii=False)
    model.script.append(Reply(answer))
    ticket = create(client, headers, text=VAGUE)["ticket"]

    def proposed_by_model() -> dict[str, Any] | None:
        proposal = client.get(f"/api/orders/{ticket}").json()["proposal"]
        return proposal if proposal and proposal["source"] == "llm" else None

    proposal = _until(proposed_by_model, "the model's adjudication became the proposal")
    assert proposal == {"department": second, "source": "llm", "reason": "管网维修归其负责"}
    assert any("派单" in str(r["messages"]) or second in str(r["messages"]) for r in model.requests)

    result = client.post(
        f"/api/orders/{ticket}/review", json={"action": "approve", "shown": second}, headers=headers
    ).json()
    assert result["order"]["department"] == second and result["source"] == "review:approved"

    records = _audit(data_dir, ticket)
    routes = [r.route for r in records]
    assert routes[-1] == "review" and "suggestion" in routes
    suggestion = next(r for r in records if r.route == "suggestion")
    adjudication = next(c for c in suggestion.tool_calls if c["tool"] == "llm.adjudicate")
    assert adjudication["prompt_id"] == "dispatch.adjudicate.v1" and adjudication["choice"] == second
    assert top in adjudication["candidates"] and second in adjudication["candidates"]
    assert suggestion.prompt_ids == ["dispatch.adjudicate.v1"]
    review = records[-1].tool_calls[0]
    assert review == {
        "tool": "dispatch.review", "actor": "hotline", "action": "approve", "proposed": second,
        "shown": second, "department": second, "source": "review:approved", "merged_into": "", "reason": "",
    }  # fmt: skip


def test_changing_away_from_what_was_shown_counts_as_changed(
    adjudicating: tuple[TestClient, FakeOpenAI],
) -> None:
    client, model = adjudicating
    headers = sign_in(client, "hotline")
    probe = create(client, headers, text=VAGUE + "。")["ticket"]
    top, second = _second_candidate(client, probe)
    _until(lambda: model.requests, "the first order's adjudication reached the model")
    model.script.extend([Reply(json.dumps({"choice": second, "reason": "r"}, ensure_ascii=False))] * 3)
    ticket = create(client, headers, text=VAGUE)["ticket"]
    # the console still showed the model's first when the caseworker chose the adjudicated one
    decision = {"action": "change", "department": second, "shown": top}
    result = client.post(f"/api/orders/{ticket}/review", json=decision, headers=headers).json()
    assert result["source"] == "review:changed" and result["order"]["department"] == second
    board = client.get("/api/dashboard").json()
    assert board["changed_by_caseworker_share"] > 0


def test_a_review_returns_while_the_model_is_still_thinking(data_dir: Path) -> None:
    slow = [Reply(json.dumps({"choice": "需人工", "reason": "慢"}, ensure_ascii=False), delay_s=240)] * 4
    with FakeOpenAI(slow) as model, _client(data_dir, model) as client:
        headers = sign_in(client, "hotline")
        ticket = create(client, headers, text=VAGUE)["ticket"]
        _until(lambda: model.requests, "the background adjudication reached the model")
        with ThreadPoolExecutor(1) as pool:  # a review that waited for the model would hang here
            done = pool.submit(
                client.post, f"/api/orders/{ticket}/review", json={"action": "approve"}, headers=headers
            )
            response = done.result(timeout=60)
        assert response.status_code == 200, response.text
        result = response.json()
        top = result["order"]["department"]
        first = client.app.state.services.dispatch_model.suggest("", VAGUE).departments[0]
        assert result["source"] == "review:approved" and top == first.department
        assert len(model.requests) == 1  # the review itself asked the model nothing
    review = [r for r in _audit(data_dir, ticket) if r.route == "review"]
    assert review and review[0].tool_calls[0]["proposed"] == top


def test_only_the_citys_units_and_the_list_the_console_offers(data_dir: Path) -> None:
    with _client(data_dir, None) as client:
        headers = sign_in(client, "hotline")
        units = client.get("/api/departments").json()
        assert "示例市供水集团有限公司" in units["departments"] and ZoneInfo(units["timezone"])
        ticket = create(client, headers, text=VAGUE)["ticket"]
        for body in (
            {"action": "change", "department": "路灯所"},
            {"action": "approve", "shown": "路灯所"},
        ):
            response = client.post(f"/api/orders/{ticket}/review", json=body, headers=headers)
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "unknown_department" and "路灯所" in error["message"]
            assert error["field"] == ("department" if "department" in body else "shown")
        moved = client.post(
            f"/api/orders/{ticket}/transition", json={"to": "受理", "department": "路灯所"}, headers=headers
        )
        assert moved.status_code == 422 and moved.json()["error"]["code"] == "unknown_department"
        order = client.get(f"/api/orders/{ticket}").json()["order"]
        assert order["state"] == "上报" and not order["department"]  # nothing was changed
