"""Policy officers: a rule is a draft until approved; push lists and explanations follow the active rules."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.demo_city import ENTERPRISES_CSV, RULES_DIR
from service.settings import load_settings
from tests.service.conftest import PASSWORD

RULE = json.loads(
    json.dumps(yaml.safe_load((RULES_DIR / "hightech-award.yaml").read_text("utf-8")), default=str)
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
    own = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=headers)
    assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"  # four eyes
    headers = sign_in(client, "officer2")
    approved = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=headers)
    assert approved.json()["status"] == "active" and approved.json()["approved_by"] == "officer2"
    push = client.get("/api/subsidies/rules/hightech-award/push-list?as_of=2025-03-01").json()
    assert push["counts"]["eligible"] == len(push["eligible"]) > 0
    code = push["eligible"][0]["credit_code"]
    csv_text = client.get("/api/subsidies/rules/hightech-award/push-list?as_of=2025-03-01&format=csv").text
    assert code in csv_text and "〔示例市高新技术企业认定奖励办法 第四条〕" in csv_text
    (decision,) = client.get(f"/api/subsidies/enterprises/{code}?as_of=2025-03-01").json()
    assert decision["decision"] == "eligible" and decision["conditions"][0]["citation"].startswith(
        "〔示例市高新技术"
    )
    author = sign_in(client, "officer")
    second = client.post(
        "/api/subsidies/rules", json={**RULE, "benefit": {**RULE["benefit"], "cap": 250000}}, headers=author
    )
    assert second.json()["version"] == 2
    headers = sign_in(client, "officer2")
    client.post("/api/subsidies/rules/hightech-award/versions/2/approve", headers=headers)
    statuses = {v["version"]: v["status"] for v in client.get("/api/subsidies/rules").json()}
    assert statuses == {2: "active", 1: "retired"}
    again = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=headers)
    assert again.status_code == 409


def test_an_officer_sees_a_draft_run_against_the_active_version_before_approving_it(
    client: TestClient,
) -> None:
    author = sign_in(client, "officer")
    client.post("/api/subsidies/rules", json=RULE, headers=author)
    path = "/api/subsidies/rules/hightech-award/versions"
    first = client.get(f"{path}/1/simulate?as_of=2025-03-01").json()
    assert first["before"] == {
        "version": None,
        "status": "none",
        "counts": {"not_eligible": 2400},
        "total": 0,
    }
    assert first["changed_total"] >= first["after"]["counts"]["eligible"] > 0
    client.post(f"{path}/1/approve", headers=sign_in(client, "officer2"))
    tiers = [{**RULE["benefit"]["tiers"][0], "amount": 300000}, RULE["benefit"]["tiers"][1]]
    author = sign_in(client, "officer")
    client.post(
        "/api/subsidies/rules", json={**RULE, "benefit": {**RULE["benefit"], "tiers": tiers}}, headers=author
    )
    result = client.get(f"{path}/2/simulate?as_of=2025-03-01").json()
    assert result["before"]["version"] == 1 and result["after"] == {
        **result["after"], "version": 2, "status": "draft", "counts": result["before"]["counts"],
    }  # fmt: skip
    first_time = [c for c in result["changed"] if c["amount_after"] == 300000]
    assert first_time and len(first_time) == result["changed_total"] and not result["truncated"]
    assert all(c["amount_before"] == 200000 for c in first_time)
    assert result["after"]["total"] - result["before"]["total"] == 100000 * len(first_time)
    reason = first_time[0]["reasons"][0]
    assert reason["kind"] == "benefit" and reason["citation"] == "〔示例市高新技术企业认定奖励办法 第四条〕"
    assert reason["values"]["高企认定类型"] == "首次"  # non-public facts: a policy officer's view only
    review = client.get(f"{path}/2/review").json()
    assert review["tests_failed"] == 1 and not review["tests"][0]["passed"]
    blocked = client.post(f"{path}/2/approve", headers=sign_in(client, "officer2"))
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "rule_tests_failed"
    assert "上年首次认定的高企获20万元" in blocked.json()["error"]["message"]
    assert "期望 符合 200,000 元，实际 符合 300,000 元" in blocked.json()["error"]["message"]
    statuses = {v["version"]: v["status"] for v in client.get("/api/subsidies/rules").json()}
    assert statuses == {2: "draft", 1: "active"}  # the failing draft did not take effect
    sign_in(client, "hotline")
    assert client.get(f"{path}/2/simulate").status_code == 403  # caseworkers do not see enterprise facts
    sign_in(client, "officer")
    assert client.get(f"{path}/9/simulate").status_code == 404


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


def draft_and_approve(client: TestClient, headers: dict[str, str]) -> None:
    """``headers``' officer drafts the rule, a second officer approves it (and stays signed in)."""
    client.post("/api/subsidies/rules", json=RULE, headers=headers)
    second = sign_in(client, "officer2")
    approved = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=second)
    assert approved.status_code == 200, approved.text
    headers.update(second)


def test_the_review_shows_each_condition_beside_its_clause_and_a_draft_can_be_sent_back(
    client: TestClient,
) -> None:
    headers = sign_in(client, "officer")
    tampered = json.loads(json.dumps(RULE))
    tampered["conditions"][1]["clause"]["quote"] = "近三年内通过高新技术企业认定"
    client.post("/api/subsidies/rules", json=tampered, headers=headers)
    page = client.get("/api/subsidies/rules/hightech-award/versions/1/review").json()
    assert page["document_found"] and page["status"] == "draft" and page["flagged"] == 1
    flagged = [i for i in page["items"] if i["quote_found"] is False]
    assert [i["id"] for i in flagged] == ["certified_last_year"]
    assert flagged[0]["article_text"].startswith("第三条")
    assert client.get("/api/subsidies/rules/hightech-award/versions/9/review").status_code == 404
    assert (
        client.post(
            "/api/subsidies/rules/hightech-award/versions/1/send-back", json={"note": "x"}, headers=headers
        ).status_code
        == 422
    )  # a reason of at least two characters
    back = client.post(
        "/api/subsidies/rules/hightech-award/versions/1/send-back",
        json={"note": "第二个条件的引文在原文中找不到，请核对第三条。"}, headers=headers,
    )  # fmt: skip
    assert back.json()["status"] == "returned"
    (version,) = client.get("/api/subsidies/rules").json()
    assert version["status"] == "returned" and "第三条" in version["review_note"]
    headers = sign_in(client, "officer2")
    assert (
        client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=headers).status_code
        == 409
    )


def test_enterprises_import_through_the_api_with_a_report_of_bad_rows(client: TestClient) -> None:
    headers = sign_in(client, "officer")
    draft_and_approve(client, headers)
    lines = ENTERPRISES_CSV.read_text(encoding="utf-8-sig").splitlines()
    new = lines[1].split(",")
    new[0], new[1], new[12], new[13], new[14] = (
        "91990102MA1DE7X01Q",
        "示例市新导入科技有限公司",
        "是",
        "2024",
        "首次",
    )
    bad = lines[2].split(",")
    bad[7] = "很多"  # 员工数
    body = "\n".join([lines[0], ",".join(new), ",".join(bad)]).encode("utf-8")
    response = client.post(
        "/api/subsidies/enterprises/import", files={"file": ("new.csv", body, "text/csv")}, headers=headers
    )
    report = response.json()
    assert response.status_code == 200 and report["stored"] == 1 and report["rejected"] == 1
    assert report["errors"][0]["line"] == 3 and "员工数" in report["errors"][0]["message"]
    decided = client.get("/api/subsidies/enterprises/91990102MA1DE7X01Q?as_of=2025-03-01").json()
    assert decided[0]["decision"] == "eligible" and decided[0]["name"] == "示例市新导入科技有限公司"
    wrong = client.post(
        "/api/subsidies/enterprises/import",
        files={"file": ("e.xlsx", b"PK..", "application/zip")},
        headers=headers,
    )
    assert wrong.status_code == 415 and wrong.json()["error"]["field"] == "file"
    headless = client.post(
        "/api/subsidies/enterprises/import", files={"file": ("e.csv", "名称\n甲\n".encode(), "text/csv")},
        headers=headers,
    )  # fmt: skip
    assert (
        headless.status_code == 422
        and "required columns missing: 统一社会信用代码" in headless.json()["error"]["message"]
    )
    caseworker = sign_in(client, "hotline")
    assert (
        client.post(
            "/api/subsidies/enterprises/import",
            files={"file": ("new.csv", body, "text/csv")},
            headers=caseworker,
        ).status_code
        == 403
    )


def test_a_match_job_runs_in_the_background_with_progress_and_push_lists(client: TestClient) -> None:
    headers = sign_in(client, "officer")
    draft_and_approve(client, headers)
    started = client.post("/api/subsidies/match-jobs", json={"as_of": "2025-03-01"}, headers=headers)
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    for _ in range(200):
        job = client.get(f"/api/subsidies/match-jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert (
        job["status"] == "done" and job["progress"] == {"done": 1, "total": 1} and job["enterprises"] == 2400
    )
    counts = job["counts"]["hightech-award"]
    push = client.get(f"/api/subsidies/match-jobs/{job_id}/push-lists/hightech-award.csv")
    assert push.status_code == 200 and len(push.text.strip().splitlines()) - 1 == counts["eligible"]
    assert client.get("/api/subsidies/match-jobs").json()[0]["job_id"] == job_id
    unknown = client.post("/api/subsidies/match-jobs", json={"rule_ids": ["no-such"]}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "rule_ids"
    assert client.get(f"/api/subsidies/match-jobs/{'0' * 32}").status_code == 404


def test_the_rule_sql_is_shown_for_duckdb_and_transpiled_for_other_engines(client: TestClient) -> None:
    headers = sign_in(client, "officer")
    draft_and_approve(client, headers)
    duck = client.get("/api/subsidies/rules/hightech-award/sql?as_of=2025-03-01").text
    pg = client.get("/api/subsidies/rules/hightech-award/sql?as_of=2025-03-01&dialect=postgres").text
    assert "CASE WHEN" in duck and "'eligible'" in pg and "high_tech_year" in pg
    assert client.get("/api/subsidies/rules/hightech-award/sql?dialect=oracle9").status_code == 422


def test_an_import_by_one_worker_reaches_the_matcher_of_another(staffed_dir: Path, tmp_path: Path) -> None:
    from service.container import build_services  # noqa: PLC0415
    from tools.enterprises import EnterpriseRegistry  # noqa: PLC0415

    shutil.copytree(staffed_dir, tmp_path / "data")
    settings = load_settings(data_dir=tmp_path / "data", llm={"backend": "none"})
    a, b = build_services(settings), build_services(settings)  # two processes' services on one database
    first = a.subsidies.matcher()
    assert a.subsidies.matcher() is first and first.size() == 2400  # loaded once, reused
    lines = ENTERPRISES_CSV.read_text(encoding="utf-8-sig").splitlines()
    new = lines[1].split(",")
    new[0] = "91990102MA1DE7X01Q"
    (tmp_path / "one.csv").write_text("\n".join([lines[0], ",".join(new)]), encoding="utf-8")
    EnterpriseRegistry(b.engine).import_file(tmp_path / "one.csv")
    assert a.subsidies.matcher().size() == 2401  # the other worker's import is seen at the next use
    a.engine.dispose()
    b.engine.dispose()
