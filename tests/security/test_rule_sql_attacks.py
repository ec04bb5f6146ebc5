"""Finding 1 of the attack on the running service: a rule reached SQL as text.

A policy officer posted a draft whose ``benefit.tiers[].of`` and a condition ``id`` carried a
quoted identifier with a sub-select reading ``/proc/self/environ``, approved it herself, and read
the server's admin token out of the push list's amounts. Each attack below is replayed against the
API (the status, the error envelope, nothing stored) and against the engine beneath it (even a
rule that skipped validation compiles to nothing, and DuckDB itself reads no file or variable).
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.demo_city import RULES_DIR
from service.settings import load_settings
from tests.cities import DEMO_FIELDS
from tests.service.conftest import PASSWORD
from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import PolicyRule, RuleError
from tools.subsidies.sql import Columns, condition_sql, decision_sql, verify

RULE: dict[str, Any] = json.loads(
    json.dumps(yaml.safe_load((RULES_DIR / "hightech-award.yaml").read_text("utf-8")), default=str)
)
SECRET = "s3cret-admin-token-that-must-not-leak"
PWNED = Path("/tmp/cityagent-pwned.csv")

# The reported payload, and the other ways out of an identifier or a literal.
PAYLOADS = [
    "employees\" * 0 + ascii(substr((SELECT content FROM read_text('/proc/self/environ')), 1, 1))"
    ' + 0 * ("employees',
    "employees\" + (SELECT length(getenv('CITYAGENT_AUTH__ADMIN_TOKEN'))) + \"employees",
    "employees\" FROM read_csv('/etc/passwd') --",
    "employees\"; COPY (SELECT 1) TO '/tmp/cityagent-pwned.csv'; --",
    "employees/**/",
    "employees -- a comment",
    "employees\u0000",
    "Employees",
    "(SELECT 1)",
]

# Every place of a rule that once reached SQL as text: (path to set, the operator that makes it reach SQL).
Mutation = tuple[str, list[Any]]


def mutate(path: list[Any], payload: str) -> dict[str, Any]:
    rule = copy.deepcopy(RULE)
    node: Any = rule
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = payload
    return rule


def ratio_rule(of: str) -> dict[str, Any]:
    rule = copy.deepcopy(RULE)
    rule["conditions"].append({
        "id": "rd_share", "label": "研发占比", "field": "rd_expense_10k", "op": "ratio_ge", "value": 0.03,
        "of": of, "clause": {"article": "第三条", "quote": "在本市注册登记"},
    })  # fmt: skip
    return rule


def rate_rule(of: str) -> dict[str, Any]:
    rule = copy.deepcopy(RULE)
    rule["benefit"]["tiers"] = [{"rate": 0.1, "of": of}]
    return rule


IDENTIFIER_PLACES = {
    "conditions[].field": lambda p: mutate(["conditions", 0, "field"], p),
    "conditions[].id": lambda p: mutate(["conditions", 0, "id"], p),
    "nested all[].field": lambda p: mutate(["conditions", 1, "all", 0, "field"], p),
    "nested all[].id": lambda p: mutate(["conditions", 1, "all", 0, "id"], p),
    "exclusions[].id": lambda p: mutate(["exclusions", 0, "id"], p),
    "exclusions[].field": lambda p: mutate(["exclusions", 0, "field"], p),
    "conditions[].of (ratio)": ratio_rule,
    "benefit.tiers[].of": rate_rule,
    "benefit.tiers[].when.field": lambda p: mutate(["benefit", "tiers", 0, "when", "field"], p),
}


@pytest.fixture
def client(staffed_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CITYAGENT_AUTH__ADMIN_TOKEN", SECRET)
    shutil.copytree(staffed_dir, tmp_path / "data")
    with TestClient(create_app(load_settings(data_dir=tmp_path / "data", llm={"backend": "none"}))) as c:
        yield c


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"x-csrf-token": response.json()["csrf"]}


@pytest.mark.parametrize("place", sorted(IDENTIFIER_PLACES))
def test_an_identifier_carrying_sql_is_refused_in_every_rule_field(client: TestClient, place: str) -> None:
    headers = sign_in(client, "officer")
    for payload in PAYLOADS:
        response = client.post(
            "/api/subsidies/rules", json=IDENTIFIER_PLACES[place](payload), headers=headers
        )
        assert response.status_code == 422, (place, payload, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"]  # the envelope names what is wrong
        assert SECRET not in response.text
    assert client.get("/api/subsidies/rules").json() == []  # nothing was stored
    assert not PWNED.exists()


def test_values_are_literals_that_cannot_end_their_quoting(client: TestClient) -> None:
    """Text values are legal (a district, a level): they must stay text, compared, never executed."""
    officer = sign_in(client, "officer")
    rule = copy.deepcopy(RULE)
    rule.pop("tests", None)  # its cases would block approving these values; the point here is SQL
    hostile = [
        "东湖区' OR TRUE OR '",
        "x'); COPY (SELECT 1) TO '/tmp/cityagent-pwned.csv'; --",
        "' || getenv('HOME') || '",
    ]
    rule["conditions"][0]["value"] = hostile
    rule["benefit"]["tiers"][0]["when"]["value"] = (
        "首次' THEN length(getenv('CITYAGENT_AUTH__ADMIN_TOKEN')) WHEN '1'='1"
    )
    assert client.post("/api/subsidies/rules", json=rule, headers=officer).status_code == 201
    approver = sign_in(client, "officer2")
    assert (
        client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=approver).status_code
        == 200
    )
    push = client.get("/api/subsidies/rules/hightech-award/push-list?as_of=2025-03-01").json()
    # No enterprise is registered in a district named like that: nobody is eligible, nothing leaks.
    assert push["counts"].get("eligible", 0) == 0 and push["eligible"] == []
    assert SECRET not in json.dumps(push) and str(len(SECRET)) not in json.dumps(push["eligible"])
    assert not PWNED.exists()


@pytest.mark.parametrize(
    "value",
    [
        "东湖区\u0000",
        "东湖区\n--",
        float("nan"),
        float("inf"),
        {"year_offset": "1); SELECT 1; --"},
        {"sql": "1"},
    ],
)
def test_values_that_are_not_plain_are_refused(value: Any) -> None:
    rule = copy.deepcopy(RULE)
    rule["conditions"][0] = {**rule["conditions"][0], "op": "eq", "value": value}
    with pytest.raises(ValueError, match="conditions"):
        PolicyRule.model_validate(rule)


def test_non_finite_amounts_rates_and_caps_are_refused() -> None:
    for patch in (
        {"cap": float("inf")},
        {"tiers": [{"amount": float("nan")}]},
        {"tiers": [{"rate": float("nan"), "of": "revenue_10k"}]},
    ):
        rule = copy.deepcopy(RULE)
        rule["benefit"].update(patch)
        with pytest.raises(ValueError, match="benefit"):
            PolicyRule.model_validate(rule)


def test_a_rule_that_skipped_validation_still_compiles_to_nothing() -> None:
    """``model_construct`` skips every validator: the compiler refuses unknown identifiers by itself."""
    good = PolicyRule.model_validate(RULE)
    for payload in PAYLOADS:
        tier = good.benefit.tiers[0].model_construct(rate=0.1, of=payload, amount=None, when=None)
        benefit = good.benefit.model_copy(update={"tiers": [tier]})
        with pytest.raises(RuleError):
            decision_sql(good.model_copy(update={"benefit": benefit}), date(2025, 3, 1), DEMO_FIELDS)
        leaf = good.exclusions[0].model_copy(update={"field": payload})
        with pytest.raises(RuleError):
            decision_sql(good.model_copy(update={"exclusions": [leaf]}), date(2025, 3, 1), DEMO_FIELDS)


def test_the_compiler_itself_emits_columns_only_from_the_field_list() -> None:
    """Below validation too: a leaf or a tier built by hand with a hostile name does not compile."""
    good = PolicyRule.model_validate(RULE)
    for payload in PAYLOADS:
        leaf = good.exclusions[0].model_copy(update={"field": payload})
        with pytest.raises(RuleError, match="unknown enterprise field"):
            condition_sql(leaf, date(2025, 3, 1), Columns.of(DEMO_FIELDS))
        ratio = leaf.model_copy(
            update={"field": "rd_expense_10k", "op": "ratio_ge", "value": 0.03, "of": payload}
        )
        with pytest.raises(RuleError, match="unknown enterprise field"):
            condition_sql(ratio, date(2025, 3, 1), Columns.of(DEMO_FIELDS))
    with pytest.raises(RuleError, match=r"sub-selects|may not use"):
        verify("SELECT credit_code, (SELECT 1) AS c_0 FROM enterprises", known=["credit_code", "c_0"])
    with pytest.raises(RuleError, match="may not use"):
        verify(
            "SELECT credit_code, read_text('/etc/passwd') AS c_0 FROM enterprises",
            known=["credit_code", "c_0"],
        )


def test_condition_ids_never_reach_sql() -> None:
    sql = decision_sql(PolicyRule.model_validate(RULE), date(2025, 3, 1), DEMO_FIELDS)
    assert "registered_here" not in sql and "dishonest AS" not in sql
    assert "AS c_0" in sql and "AS x_0" in sql


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT content FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT getenv('HOME')",
        "COPY (SELECT 1) TO '/tmp/cityagent-pwned.csv'",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        "ATTACH '/tmp/cityagent-pwned.duckdb' AS other",
    ],
)
def test_the_matchers_duckdb_reads_no_file_and_no_environment(statement: str) -> None:
    """Defence in depth: even SQL written by a future bug runs with external access off and locked."""
    matcher = Matcher(DEMO_FIELDS)
    with pytest.raises(duckdb.Error):
        matcher.db.execute(statement).fetchall()
    assert not PWNED.exists() and not Path("/tmp/cityagent-pwned.duckdb").exists()
    assert matcher.size() == 0  # and the matcher still works


def test_the_author_of_a_draft_cannot_approve_it(client: TestClient) -> None:
    officer = sign_in(client, "officer")
    assert client.post("/api/subsidies/rules", json=RULE, headers=officer).status_code == 201
    own = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=officer)
    assert own.status_code == 403 and own.json()["error"]["code"] == "self_approval"
    (version,) = client.get("/api/subsidies/rules").json()
    assert version["status"] == "draft" and version["approved_by"] is None  # nothing changed
    approver = sign_in(client, "officer2")
    done = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=approver)
    assert done.status_code == 200 and done.json()["approved_by"] == "officer2"


def test_a_one_person_office_may_allow_self_approval(staffed_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(staffed_dir, tmp_path / "data")
    settings = load_settings(
        data_dir=tmp_path / "data", llm={"backend": "none"}, subsidies={"allow_self_approval": True}
    )
    with TestClient(create_app(settings)) as client:
        officer = sign_in(client, "officer")
        client.post("/api/subsidies/rules", json=RULE, headers=officer)
        done = client.post("/api/subsidies/rules/hightech-award/versions/1/approve", headers=officer)
        assert done.status_code == 200 and done.json()["approved_by"] == "officer"
