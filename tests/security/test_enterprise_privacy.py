"""Finding 12: anyone who typed a company's (public) credit code got its eligibility and amounts.

A 研发费用补助 of 10% reveals the enterprise's R&D spending. Replayed over the API: an anonymous
visitor gets the policies' conditions and nothing the shared data says about the company; figures
the visitor types are used alone and marked self-declared; the enterprise signed in (an account
bound to its credit code) and policy officers get the matcher's decisions; an enterprise account
cannot read another enterprise's.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.demo_city import ENTERPRISES_CSV, RULES_DIR
from service.settings import load_settings
from tests.cities import DEMO_FIELDS
from tests.service.conftest import PASSWORD
from tools.audit import AuditLog
from tools.db import make_engine
from tools.enterprises import EnterpriseRegistry
from tools.subsidies.matcher import Matcher
from tools.subsidies.rules import load_rule
from tools.subsidies.store import RuleStore
from tools.users import UserError, UserStore

RD_RULE = RULES_DIR / "rd-subsidy.yaml"  # 10% of R&D spending: the amount reveals it


def _eligible_enterprise(client: TestClient, officer: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """An enterprise the shared data makes eligible for the R&D subsidy today, and that decision."""
    matcher = Matcher(DEMO_FIELDS)
    matcher.load_rows(EnterpriseRegistry(client.app.state.services.engine).all_rows())  # type: ignore[attr-defined]
    code, _, _ = matcher.push_list(load_rule(RD_RULE, DEMO_FIELDS), date.today())[0]
    (decision,) = [
        d
        for d in client.get(f"/api/subsidies/enterprises/{code}", headers=officer).json()
        if d["policy"] == "rd-subsidy"
    ]
    assert decision["decision"] == "eligible" and decision["amount"]
    return code, decision


@pytest.fixture
def client(staffed_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    data = tmp_path / "data"
    shutil.copytree(staffed_dir, data)
    settings = load_settings(data_dir=data, llm={"backend": "none"})
    rules = RuleStore(make_engine(settings.database, settings.data_dir))
    draft = rules.save_draft(load_rule(RD_RULE, DEMO_FIELDS), "officer")
    rules.approve(draft.id, draft.version, "officer2")
    with TestClient(create_app(settings)) as c:
        yield c


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['token']}"}


def _ask(client: TestClient, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post("/api/chat", json={"message": message, "stream": False}, headers=headers or {})
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def _add_enterprise_account(client: TestClient, name: str, code: str) -> None:
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    UserStore(make_engine(settings.database, settings.data_dir)).add(
        name, PASSWORD, ["enterprise"], enterprise=code
    )


def test_an_anonymous_visitor_gets_conditions_not_the_enterprises_decisions(client: TestClient) -> None:
    officer = _login(client, "officer")
    code, decision = _eligible_enterprise(client, officer)
    amount = f"{decision['amount']:,.0f}"
    client.cookies.clear()  # a visitor on the city's page: no staff sign-in
    reply = _ask(client, f"{code} 这家公司能享受哪些补贴？")
    text = reply["answer"]
    assert reply["route"] == "subsidy"
    assert amount not in text and "符合（" not in text and "不符合" not in text
    assert "不对外公开" in text and "〔" in text  # the conditions, each with its clause
    # The audit trail's tool call records that the shared data was not used.
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    audit = AuditLog(make_engine(settings.database, settings.data_dir))
    (call,) = [
        c for r in audit.records(route="subsidy") for c in r.tool_calls if c.get("credit_code") == code
    ]
    assert call["shared_data"] is False and "decisions" in call


def test_figures_a_visitor_types_are_used_alone_and_marked_self_declared(client: TestClient) -> None:
    officer = _login(client, "officer")
    code, decision = _eligible_enterprise(client, officer)  # eligible on the shared data
    client.cookies.clear()
    first = _ask(client, f"{code} 能享受研发费用补助吗")["answer"]
    assert "如需试算" in first and "研发费用万元" in first
    # Below the 200万元 threshold: the typed figure alone decides "not eligible", whatever the registry says.
    second = _ask(client, "研发费用万元 100")["answer"]
    assert "按自报信息不符合" in second and "自报、未核验" in second
    assert f"{decision['amount']:,.0f}" not in second


def test_the_enterprise_signed_in_and_policy_officers_get_the_matchers_decisions(client: TestClient) -> None:
    officer = _login(client, "officer")
    code, decision = _eligible_enterprise(client, officer)
    amount = f"{decision['amount']:,.0f}"
    staff_reply = _ask(client, f"{code} 能享受哪些政策", headers=officer)["answer"]
    assert amount in staff_reply
    _add_enterprise_account(client, "ent-own", code)
    client.cookies.clear()
    own = _login(client, "ent-own")
    client.cookies.clear()  # the bearer alone proves who asks
    assert amount in _ask(client, f"{code} 能享受哪些政策", headers=own)["answer"]
    assert client.get(f"/api/subsidies/enterprises/{code}", headers=own).status_code == 200


def test_an_enterprise_account_cannot_read_another_enterprise(client: TestClient) -> None:
    officer = _login(client, "officer")
    code, decision = _eligible_enterprise(client, officer)
    amount = f"{decision['amount']:,.0f}"
    other = next(
        r["统一社会信用代码"]
        for r in csv.DictReader(ENTERPRISES_CSV.read_text(encoding="utf-8-sig").splitlines())
        if r["统一社会信用代码"] != code
    )
    _add_enterprise_account(client, "ent-other", other)
    client.cookies.clear()
    theirs = _login(client, "ent-other")
    client.cookies.clear()
    denied = client.get(f"/api/subsidies/enterprises/{code}", headers=theirs)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert amount not in denied.text
    reply = _ask(client, f"{code} 能享受哪些政策", headers=theirs)["answer"]
    assert amount not in reply and "不对外公开" in reply


def test_an_enterprise_account_needs_a_valid_credit_code_and_no_other_role(client: TestClient) -> None:
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    users = UserStore(make_engine(settings.database, settings.data_dir))
    with pytest.raises(UserError, match="enterprise"):
        users.add("ent-bad", PASSWORD, ["enterprise"], enterprise="91990102MA1DE7X0XX")
    with pytest.raises(UserError, match="enterprise"):
        users.add("ent-mixed", PASSWORD, ["enterprise", "policy_officer"], enterprise="91990102MA1DE7X01Q")
    with pytest.raises(UserError, match="enterprise"):
        users.add("ent-none", PASSWORD, ["enterprise"])
