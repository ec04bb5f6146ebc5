"""The schema, on every database we support: migrations apply, match the code, and are idempotent.

PostgreSQL runs against 127.0.0.1:5432 (CI has it); the test skips, saying so, when none answers.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect

from knowledge.registry import metadata as knowledge_metadata
from tools.audit import metadata as audit_metadata
from tools.db import migrate, ping
from tools.dispatch.history import metadata as dispatch_metadata
from tools.enterprises.dictionary import metadata as dictionary_metadata
from tools.enterprises.registry import metadata as enterprise_metadata
from tools.open311.keys import metadata as open311_key_metadata
from tools.open311.records import metadata as open311_request_metadata
from tools.subsidies.jobs import metadata as match_job_metadata
from tools.subsidies.store import metadata as subsidy_metadata
from tools.users import metadata as user_metadata
from tools.work_orders.contacts import metadata as contact_metadata
from tools.work_orders.store import metadata as work_order_metadata


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    return any_engine


def test_migrations_apply_twice_and_match_the_code(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    tables = {"kb_documents", "enterprise_records", "enterprise_dictionaries", "dispatch_history",
              "work_orders", "work_order_events", "audit_turns", "staff_users",
              "pending_contacts", "open311_clients", "open311_requests"}  # fmt: skip
    assert tables <= set(inspect(engine).get_table_names())
    combined = MetaData()
    every = (knowledge_metadata, enterprise_metadata, dictionary_metadata, dispatch_metadata,
             work_order_metadata, audit_metadata, user_metadata, subsidy_metadata,
             match_job_metadata, contact_metadata, open311_key_metadata,
             open311_request_metadata)  # fmt: skip
    for md in every:
        for table in md.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), combined)
    assert [d for d in diff if d[0] != "remove_index"] == []


def test_ping_names_the_dialect(engine: Engine) -> None:
    assert ping(engine) in {"sqlite", "postgresql"}


def test_a_migration_that_loses_a_deadlock_tries_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time  # noqa: PLC0415

    from alembic import command  # noqa: PLC0415
    from psycopg.errors import DeadlockDetected  # noqa: PLC0415
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    from tools import db  # noqa: PLC0415

    upgrade, calls = command.upgrade, []

    def first_deadlocks(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 1:  # what PostgreSQL does to one of two workers setting up at once
            raise OperationalError(
                "SELECT pg_advisory_xact_lock(…)", {}, DeadlockDetected("deadlock detected")
            )
        upgrade(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "upgrade", first_deadlocks)
    monkeypatch.setattr(time, "sleep", lambda _: None)
    migrate(engine)
    assert len(calls) == 2

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, OSError("server closed the connection"))

    monkeypatch.setattr(command, "upgrade", down)
    with pytest.raises(db.DatabaseError, match="migration failed"):
        migrate(engine)  # any other failure is not retried
