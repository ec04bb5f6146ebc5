"""Policy officers: a rule is a draft until approved; push lists and explanations follow the active rules."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.demo_city import DEMO_DIR
from service.settings import load_settings
from tests.service.conftest import PASSWORD

RULE = json.loads(
    json.dumps(yaml.safe_load((DEMO_DIR / "rules" / "hightech-award.yaml").read_text("utf-8")), default=str)
)


@pytest.fixture
def client(staffed_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copytree(staffed_dir, tmp_path / "data")
    with TestClient(create_app(load_settings(data_dir=tmp_path / "data", llm={"backend": "none"}))) as c:
        yield c


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"x-csrf-token": response.json()["csrf"]}


def test_a_draft_takes_effect_only_when_an_officer_approves_it(client: TestClient) -> None:
    headers = sign_in(client, "officer")
    draft = client.post("/api/subsidies/rules", json=RULE, headers=headers)
    assert draft.status_code == 201 and draft.json() == {
        "rule_id": "hightech-award",
        "version": 1,
        "status": "draft",
    }
    assert client.get("/api/subsidies/rules/hightech-award/push-list").status_code == 404  # not in force yet
    approved = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=headers)
    assert approved.json()["status"] == "active" and approved.json()["approved_by"] == "officer"
    push = client.get("/api/subsidies/rules/hightech-award/push-list?as_of=2025-03-01").json()
    assert push["counts"]["eligible"] == len(push["eligible"]) > 0
    code = push["eligible"][0]["credit_code"]
    csv_text = client.get("/api/subsidies/rules/hightech-award/push-list?as_of=2025-03-01&format=csv").text
    assert code in csv_text and "〔示例市高新技术企业认定奖励办法 第四条〕" in csv_text
    (decision,) = client.get(f"/api/subsidies/enterprises/{code}?as_of=2025-03-01").json()
    assert decision["decision"] == "eligible" and decision["conditions"][0]["citation"].startswith(
        "〔示例市高新技术"
    )
    second = client.post(
        "/api/subsidies/rules", json={**RULE, "benefit": {**RULE["benefit"], "cap": 150000}}, headers=headers
    )
    assert second.json()["version"] == 2
    client.post("/api/subsidies/rules/hightech-award/versions/2/approve", headers=headers)
    statuses = {v["version"]: v["status"] for v in client.get("/api/subsidies/rules").json()}
    assert statuses == {2: "active", 1: "retired"}
    again = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=headers)
    assert again.status_code == 409


def test_a_rule_with_an_unknown_field_is_refused_with_the_field(client: TestClient) -> None:
    headers = sign_in(client, "officer")
    bad = {**RULE, "conditions": [{**RULE["conditions"][0], "field": "staff_count"}]}
    response = client.post("/api/subsidies/rules", json=bad, headers=headers)
    assert (
        response.status_code == 422
        and "unknown enterprise field 'staff_count'" in response.json()["error"]["message"]
    )


def test_only_policy_officers_and_admins_manage_rules(client: TestClient) -> None:
    headers = sign_in(client, "hotline")
    assert client.post("/api/subsidies/rules", json=RULE, headers=headers).status_code == 403
