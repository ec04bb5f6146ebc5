"""Open311's tables on SQLite and PostgreSQL: keys by digest, details beside orders, the list's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tools.db import migrate
from tools.open311 import ApiKeys, Details, Open311Records, UnknownClientError
from tools.work_orders import NewWorkOrder, State, WorkOrderStore

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    migrate(any_engine)
    return any_engine


def test_keys_are_found_by_digest_and_revoked(engine: Engine) -> None:
    keys = ApiKeys(engine)
    key = keys.issue("city-portal", now=NOW)
    assert keys.client_for(key) == "city-portal" and keys.client_for(key + "x") is None
    assert keys.client_for("not-even-shaped-like-one") is None
    with pytest.raises(ValueError, match="exists already"):
        keys.issue("city-portal")
    with pytest.raises(ValueError, match="client name"):
        keys.issue("no spaces please")
    keys.revoke("city-portal", now=NOW)
    keys.revoke("city-portal")  # idempotent
    assert keys.client_for(key) is None
    (client,) = keys.clients()
    assert not client.active and key.startswith(client.key_prefix) and client.created_at == NOW
    with pytest.raises(UnknownClientError):
        keys.revoke("nobody")


def test_details_sit_beside_orders_and_the_list_filters(engine: Engine) -> None:
    store, records = WorkOrderStore(engine), Open311Records(engine)
    filed, _ = store.create(
        NewWorkOrder(text="路灯不亮", category="公用事业", channel="open311"), "o", now=NOW
    )
    kept = records.keep(
        filed.ticket, Details("001", "city-portal", 30.1, 120.2, None, {"lamp_state": ["dark"]})
    )
    assert kept.token and records.keep(filed.ticket, Details("002", "other")).token == kept.token
    assert records.ticket_for_token(kept.token) == filed.ticket and records.ticket_for_token("x") is None
    later = NOW + timedelta(hours=1)
    phoned, _ = store.create(
        NewWorkOrder(text="路灯坏了", category="公用事业", channel="phone"), "h", now=later
    )
    other, _ = store.create(
        NewWorkOrder(text="噪声扰民", category="环境保护"), "h", now=later + timedelta(hours=1)
    )
    store.transition(other.ticket, State.MERGED, "h", merged_into=filed.ticket)

    def tickets(**filters: object) -> list[str]:
        return [o.ticket for o, _ in records.find(**filters)]  # type: ignore[arg-type]

    assert tickets() == [other.ticket, phoned.ticket, filed.ticket]
    assert tickets(codes=["001"], categories=["公用事业"]) == [phoned.ticket, filed.ticket]
    assert tickets(codes=["001"], categories=[]) == [filed.ticket]
    assert tickets(states=[State.MERGED.value]) == [other.ticket]
    assert tickets(start=later, end=later + timedelta(minutes=30)) == [phoned.ticket]
    assert tickets(tickets=[filed.ticket, "SL0"]) == [filed.ticket]
    (_, details), *_ = records.find(tickets=[filed.ticket])
    assert (
        details is not None
        and details.lat == pytest.approx(30.1)
        and details.attributes == {"lamp_state": ["dark"]}
    )
    assert records.find(tickets=[phoned.ticket])[0][1] is None
