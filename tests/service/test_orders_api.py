"""Staff sign-in, role and department checks, CSRF, and the work-order API with the dispatch review."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import CSRF_COOKIE, issue, verify
from service.settings import load_settings
from tests.service.conftest import PASSWORD
from tools.db import DatabaseSettings, make_engine
from tools.dispatch.history import DispatchHistory
from tools.users import UserStore

BURST = "北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹"


@pytest.fixture
def data_dir(staffed_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(staffed_dir, tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def app_client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(data_dir=data_dir, llm={"backend": "none"}))) as client:
        yield client


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"x-csrf-token": response.json()["csrf"]}


def create(
    client: TestClient, headers: dict[str, str], text: str = BURST, key: str | None = None
) -> dict[str, Any]:
    body = {"text": text, "client_key": key} if key else {"text": text}
    response = client.post("/api/orders", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def test_tokens_are_signed_and_expire() -> None:
    token, _, _ = issue("s" * 40, "张三", ttl_s=60, now=1000)
    claims = verify("s" * 40, token, now=1030)
    assert claims is not None and claims.username == "张三" and claims.expires == 1060
    assert verify("s" * 40, token, now=1061) is None
    assert verify("t" * 40, token, now=1030) is None
    assert verify("s" * 40, token.replace(".", "x", 1), now=1030) is None


def test_sign_in_is_needed_and_a_wrong_password_is_refused(app_client: TestClient) -> None:
    assert app_client.get("/api/orders").json()["error"]["code"] == "not_signed_in"
    bad = app_client.post("/api/auth/login", json={"username": "hotline", "password": "wrong-password"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_credentials"
    sign_in(app_client, "hotline")
    assert app_client.get("/api/auth/me").json()["username"] == "hotline"


def test_roles_are_checked(app_client: TestClient) -> None:
    sign_in(app_client, "analyst")
    response = app_client.get("/api/orders")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_state_changes_need_the_csrf_token_with_a_cookie_session(app_client: TestClient) -> None:
    headers = sign_in(app_client, "hotline")
    refused = app_client.post("/api/orders", json={"text": BURST})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert app_client.cookies[CSRF_COOKIE] == headers["x-csrf-token"]
    assert create(app_client, headers)["state"] == "上报"


def test_a_bearer_token_works_for_scripts_without_csrf(data_dir: Path, app_client: TestClient) -> None:
    token = app_client.post("/api/auth/login", json={"username": "boss", "password": PASSWORD}).json()[
        "token"
    ]
    with TestClient(create_app(load_settings(data_dir=data_dir, llm={"backend": "none"}))) as script:
        response = script.post(
            "/api/orders", json={"text": BURST}, headers={"authorization": f"Bearer {token}"}
        )
    assert response.status_code == 201


def test_creation_is_idempotent_on_the_client_key(app_client: TestClient) -> None:
    headers = sign_in(app_client, "hotline")
    first = create(app_client, headers, key="phone-call-000123")
    again = app_client.post(
        "/api/orders", json={"text": BURST, "client_key": "phone-call-000123"}, headers=headers
    )
    assert again.status_code == 200 and again.json()["ticket"] == first["ticket"]


def test_review_dispatches_with_reasons_and_records_the_decision(
    app_client: TestClient, data_dir: Path
) -> None:
    headers = sign_in(app_client, "hotline")
    ticket = create(app_client, headers)["ticket"]
    detail = app_client.get(f"/api/orders/{ticket}").json()
    top = detail["suggestion"]["departments"][0]
    assert top["department"] == "示例市供水集团有限公司" and 0 < top["confidence"] <= 1
    assert top["duty"]["citation"].startswith("〔示例市12345热线派单目录及部门权责清单")
    assert detail["location"]["district"] == "北岭区"
    result = app_client.post(
        f"/api/orders/{ticket}/review", json={"action": "approve"}, headers=headers
    ).json()
    assert result["order"]["state"] == "派发" and result["order"]["department"] == "示例市供水集团有限公司"
    assert result["source"] == "review:approved" and result["outcome"].endswith("（审核同意）")
    states = [e["to_state"] for e in app_client.get(f"/api/orders/{ticket}").json()["events"]]
    assert states == ["上报", "受理", "派发"]
    again = app_client.post(f"/api/orders/{ticket}/review", json={"action": "approve"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_reviewable"


def test_a_change_by_the_caseworker_is_kept_for_retraining(app_client: TestClient, data_dir: Path) -> None:
    headers = sign_in(app_client, "hotline")
    ticket = create(app_client, headers)["ticket"]
    decision = {"action": "change", "department": "北岭区北岭街道办事处"}
    result = app_client.post(f"/api/orders/{ticket}/review", json=decision, headers=headers).json()
    assert result["order"]["department"] == "北岭区北岭街道办事处" and result["source"] == "review:changed"
    changed = DispatchHistory(make_engine(DatabaseSettings(), data_dir)).by_source("review:changed")
    assert [row["order_id"] for row in changed] == [ticket]


def test_an_illegal_transition_is_refused_with_both_states(app_client: TestClient) -> None:
    headers = sign_in(app_client, "hotline")
    ticket = create(app_client, headers)["ticket"]
    response = app_client.post(f"/api/orders/{ticket}/transition", json={"to": "办结"}, headers=headers)
    assert response.status_code == 409 and "上报 → 办结" in response.json()["error"]["message"]


def test_a_department_caseworker_sees_only_their_orders(app_client: TestClient) -> None:
    hotline = sign_in(app_client, "hotline")
    water_order = create(app_client, hotline)["ticket"]
    app_client.post(f"/api/orders/{water_order}/review", json={"action": "approve"}, headers=hotline)
    other = create(app_client, hotline, text="东湖区湖滨路小区门口垃圾堆了三天没人清运，气味很大")["ticket"]
    sign_in(app_client, "water")
    visible = {o["ticket"] for o in app_client.get("/api/orders").json()["orders"]}
    assert visible == {water_order}
    assert app_client.get(f"/api/orders/{other}").status_code == 404


def test_a_disabled_account_loses_its_session_at_once(app_client: TestClient, data_dir: Path) -> None:
    sign_in(app_client, "hotline")
    UserStore(make_engine(DatabaseSettings(), data_dir)).set_disabled("hotline")
    assert app_client.get("/api/orders").status_code == 401


def test_the_dashboard_counts_what_happened(app_client: TestClient) -> None:
    headers = sign_in(app_client, "boss")
    ticket = create(app_client, headers)["ticket"]
    app_client.post(f"/api/orders/{ticket}/review", json={"action": "approve"}, headers=headers)
    board = app_client.get("/api/dashboard").json()
    assert board["orders"] == 1 and board["by_department"] == {"示例市供水集团有限公司": 1}
    assert board["reviewed"] == 1 and board["changed_by_caseworker_share"] == 0.0
    assert board["median_hours_to_dispatch"] is not None


def test_evaluators_see_the_runs_and_their_reports(app_client: TestClient, data_dir: Path) -> None:
    run = data_dir / "eval-runs" / "20261123-120000"
    run.mkdir(parents=True)
    summary = {
        "meta": {"started": "2026-11-23T12:00:00"},
        "suites": {"demo_qa.v1": {"metrics": {"citation_accuracy": {"mean": 0.9}}}},
    }
    (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (run / "report.html").write_text("<h1>report</h1>", encoding="utf-8")
    sign_in(app_client, "hotline")
    assert app_client.get("/api/eval/runs").status_code == 403
    sign_in(app_client, "analyst")
    (listed,) = app_client.get("/api/eval/runs").json()
    assert listed["metrics"] == {"demo_qa.v1": {"citation_accuracy": 0.9}}
    assert app_client.get(listed["report"]).text == "<h1>report</h1>"
    assert app_client.get("/eval/runs/..%2Fsecrets/report.html").status_code == 404
    assert "评测运行" in app_client.get("/eval").text


def test_merging_into_a_missing_or_the_same_order_is_refused(app_client: TestClient) -> None:
    """Found by schemathesis: a merge into a ticket that does not exist answered 500."""
    headers = sign_in(app_client, "hotline")
    ticket = create(app_client, headers)["ticket"]
    for target in ("R(\u001e", ticket):
        response = app_client.post(
            f"/api/orders/{ticket}/review", json={"action": "merge", "merged_into": target}, headers=headers
        )
        assert response.status_code == 422 and response.json()["error"]["field"] == "merged_into"
    assert app_client.get(f"/api/orders/{ticket}").json()["order"]["state"] == "上报"
