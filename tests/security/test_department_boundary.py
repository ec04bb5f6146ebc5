"""Finding 6 of the security review (issue 14), replayed: the department boundary.

A caseworker limited to 供水 saw another department's ticket in an order's ``duplicates``, merged
their own order into another department's by ``/transition`` (``/review`` refused the same merge),
and got another department's full order back by replaying its ``client_key``. Every path to an
order now asks one check (tools/work_orders/access.py); each attack must answer with the error
envelope, change nothing, and carry nothing of the other department's order. The hotline
dispatcher (no department limit) runs the same requests as the control: they succeed for them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import load_settings
from tests.service.conftest import PASSWORD, demo_dir, staffed_dir  # noqa: F401 - the fixtures
from tools.db import DatabaseSettings, make_engine, migrate
from tools.users import User
from tools.work_orders import NewWorkOrder, State, WorkOrderStore
from tools.work_orders.access import can_see, may_replay, visible_departments

WATER = "示例市供水集团有限公司"
STREET = "北岭区北岭街道办事处"
BURST = "北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹"
BURST_AGAIN = "北岭区建设路98号供水管道爆裂了，水喷得很高，路面被淹了"
SECRET_TEXT = "北岭区建设路98号供水管道爆裂，水很大，邻居家地下室也进水了"
OTHER_KEY = "phone-call-street-000777"


@pytest.fixture
def client(staffed_dir: Path, tmp_path: Path) -> Iterator[TestClient]:  # noqa: F811 - the fixture above
    shutil.copytree(staffed_dir, tmp_path / "data")
    with TestClient(create_app(load_settings(data_dir=tmp_path / "data", llm={"backend": "none"}))) as c:
        yield c


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"x-csrf-token": response.json()["csrf"]}


def post(client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(path, json=body, headers=headers)


@pytest.fixture
def world(client: TestClient) -> dict[str, str]:
    """A water order, and two orders of the street office: one like it (a duplicate), one keyed."""
    hotline = sign_in(client, "hotline")
    tickets = {}
    for name, text, key in (
        ("water", BURST, None),
        ("street", BURST_AGAIN, None),
        ("keyed", SECRET_TEXT, OTHER_KEY),
    ):
        body = {"text": text, **({"client_key": key} if key else {})}
        response = post(client, "/api/orders", body, hotline)
        assert response.status_code == 201, response.text
        tickets[name] = response.json()["ticket"]
    decisions = {
        "water": {"action": "change", "department": WATER},
        "street": {"action": "change", "department": STREET},
        "keyed": {"action": "change", "department": STREET},
    }
    for name, decision in decisions.items():
        done = post(client, f"/api/orders/{tickets[name]}/review", decision, hotline)
        assert done.status_code == 200, done.text
    return tickets


def assert_hidden(response: Any, *secrets: str, status: int = 404, code: str = "order_not_found") -> None:
    """The error envelope, and nothing of the other department's order in it."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and set(response.json()) == {"error"}
    for secret in secrets:
        assert secret not in response.text


def test_duplicates_leave_out_another_departments_ticket(client: TestClient, world: dict[str, str]) -> None:
    sign_in(client, "hotline")  # the control: for the hotline the street office's order is a duplicate
    seen = {d["ticket"] for d in client.get(f"/api/orders/{world['water']}").json()["duplicates"]}
    assert world["street"] in seen
    sign_in(client, "water")
    detail = client.get(f"/api/orders/{world['water']}")
    assert detail.status_code == 200
    assert world["street"] not in detail.text and world["keyed"] not in detail.text


def test_a_merge_into_another_departments_order_is_refused_by_transition_as_by_review(
    client: TestClient, world: dict[str, str]
) -> None:
    water = sign_in(client, "water")
    back = post(
        client, f"/api/orders/{world['water']}/transition", {"to": "退回", "reason": "不属于本单位"}, water
    )
    assert back.status_code == 200 and back.json()["state"] == "退回"
    for path, body in (
        ("transition", {"to": "合并", "merged_into": world["street"]}),
        ("review", {"action": "merge", "merged_into": world["street"]}),
    ):
        refused = post(client, f"/api/orders/{world['water']}/{path}", body, water)
        assert_hidden(refused, STREET, BURST_AGAIN, status=422, code="invalid_decision")
        assert refused.json()["error"]["field"] == "merged_into"
        missing = post(
            client, f"/api/orders/{world['water']}/{path}", {**body, "merged_into": "SL20990101999999"}, water
        )
        assert (
            missing.json()["error"]["message"].replace("SL20990101999999", world["street"])
            == (
                refused.json()["error"]["message"]  # the same answer as for an order that does not exist
            )
        )
    order = client.get(f"/api/orders/{world['water']}").json()["order"]
    assert order["state"] == "退回" and order["merged_into"] is None
    hotline = sign_in(client, "hotline")  # the control: the hotline may merge it
    merged = post(
        client,
        f"/api/orders/{world['water']}/transition",
        {"to": "合并", "merged_into": world["street"]},
        hotline,
    )
    assert merged.status_code == 200 and merged.json()["merged_into"] == world["street"]


def test_replaying_another_departments_client_key_gives_nothing_back(
    client: TestClient, world: dict[str, str]
) -> None:
    water = sign_in(client, "water")
    replay = post(client, "/api/orders", {"text": SECRET_TEXT, "client_key": OTHER_KEY}, water)
    assert_hidden(replay, world["keyed"], STREET, "地下室", status=409, code="idempotency_conflict")
    other_text = post(
        client, "/api/orders", {"text": "另一件事：东湖区路灯不亮", "client_key": OTHER_KEY}, water
    )

    def envelope(response: Any) -> dict[str, Any]:
        return {k: v for k, v in response.json()["error"].items() if k != "request_id"}

    assert other_text.status_code == 409 and envelope(other_text) == envelope(
        replay
    )  # nothing tells them apart
    mine = post(
        client,
        "/api/orders",
        {"text": "东湖区湖滨路水压很低，今天早上开始", "client_key": "water-call-0001"},
        water,
    )
    assert mine.status_code == 201
    again = post(
        client,
        "/api/orders",
        {"text": "东湖区湖滨路水压很低，今天早上开始", "client_key": "water-call-0001"},
        water,
    )
    assert again.status_code == 200 and again.json()["ticket"] == mine.json()["ticket"]  # the same caller
    hotline = sign_in(client, "hotline")
    control = post(client, "/api/orders", {"text": SECRET_TEXT, "client_key": OTHER_KEY}, hotline)
    assert control.status_code == 200 and control.json()["ticket"] == world["keyed"]


def test_every_path_to_another_departments_order_answers_not_found(
    client: TestClient, world: dict[str, str]
) -> None:
    water = sign_in(client, "water")
    street = world["street"]
    attempts = [
        client.get(f"/api/orders/{street}"),
        client.get(f"/api/orders/{street}/contact"),
        post(client, f"/api/orders/{street}/transition", {"to": "处置"}, water),
        post(client, f"/api/orders/{street}/transition", {"to": "退回", "reason": "x"}, water),
        post(client, f"/api/orders/{street}/review", {"action": "approve"}, water),
    ]
    for response in attempts:
        assert_hidden(response, BURST_AGAIN, STREET)
    missing = client.get("/api/orders/SL20990101999999").json()["error"]
    hidden = client.get(f"/api/orders/{street}").json()["error"]
    assert hidden["message"] == missing["message"].replace("SL20990101999999", street)  # no tell
    listed = client.get("/api/orders").json()["orders"]
    assert [o["ticket"] for o in listed] == [world["water"]]
    for flt in ("?department=" + STREET, "?state=派发", "?overdue=true"):
        assert street not in client.get("/api/orders" + flt).text
    assert client.get("/api/dashboard").json()["by_department"] == {WATER: 1}
    hotline = sign_in(client, "hotline")
    assert client.get(f"/api/orders/{street}").status_code == 200  # the control
    moved = post(client, f"/api/orders/{street}/transition", {"to": "处置"}, hotline)
    assert moved.status_code == 200
    sign_in(client, "water")
    assert client.get(f"/api/orders/{street}").status_code == 404  # and the state was not the reason


def test_the_one_check_by_role_and_department(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    store = WorkOrderStore(engine)
    order, _ = store.create(NewWorkOrder(text=BURST), "hotline")
    store.transition(order.ticket, State.ACCEPTED, "hotline")
    dispatched = store.transition(order.ticket, State.DISPATCHED, "hotline", department=WATER)
    water = User("water", ("caseworker",), (WATER,))
    street = User("street", ("caseworker",), (STREET,))
    hotline, admin = User("hotline", ("caseworker",), ()), User("boss", ("admin",), (STREET,))
    assert visible_departments(water) == frozenset({WATER}) and visible_departments(hotline) is None
    assert visible_departments(admin) is None
    assert can_see(water, dispatched) and not can_see(street, dispatched)
    assert can_see(hotline, dispatched) and can_see(admin, dispatched)
    assert not can_see(water, order)  # before dispatch, only the hotline sees it
    assert may_replay(hotline, order, store.created_by(order.ticket))
    assert not may_replay(street, dispatched, store.created_by(order.ticket))
