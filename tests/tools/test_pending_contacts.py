"""The raw call-back numbers waiting for their order, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from tools.db import migrate
from tools.work_orders.contacts import PendingContacts, pending_contacts, tail

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(pending_contacts)).scalar_one())


def test_a_number_is_held_replaced_and_cleared_per_conversation(any_engine: Engine) -> None:
    migrate(any_engine)
    contacts = PendingContacts(any_engine)
    contacts.hold("web:a", "13812345678", now=NOW)
    contacts.hold("web:b", "057187654321", now=NOW)
    contacts.hold("web:a", "13900001111", now=NOW)  # a second number replaces the first
    assert (
        contacts.get("web:a", now=NOW) == "13900001111" and contacts.get("web:b", now=NOW) == "057187654321"
    )
    contacts.clear("web:a")
    assert contacts.get("web:a", now=NOW) is None and rows(any_engine) == 1


def test_a_number_past_its_ttl_is_neither_given_nor_kept(any_engine: Engine) -> None:
    migrate(any_engine)
    contacts = PendingContacts(any_engine, ttl=timedelta(days=3))
    contacts.hold("web:old", "13812345678", now=NOW)
    later = NOW + timedelta(days=3, minutes=1)
    assert contacts.get("web:old", now=later) is None
    contacts.hold("web:new", "13900001111", now=later)  # holding one sweeps the expired ones
    assert rows(any_engine) == 1 and contacts.get("web:new", now=later) == "13900001111"


def test_the_tail_is_what_a_masked_number_still_shows() -> None:
    assert tail("138****5678") == tail("13812345678") == "5678"
    assert tail("0571-****4321") == tail("057187654321") == "4321"
