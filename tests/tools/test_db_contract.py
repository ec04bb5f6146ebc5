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
from tools.enterprises.registry import metadata as enterprise_metadata
from tools.subsidies.jobs import metadata as match_job_metadata
from tools.subsidies.store import metadata as subsidy_metadata
from tools.users import metadata as user_metadata
from tools.work_orders.store import metadata as work_order_metadata


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    return any_engine


def test_migrations_apply_twice_and_match_the_code(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    tables = {"kb_documents", "enterprises", "dispatch_history", "work_orders", "work_order_events",
              "audit_turns", "staff_users"}  # fmt: skip
    assert tables <= set(inspect(engine).get_table_names())
    combined = MetaData()
    every = (knowledge_metadata, enterprise_metadata, dispatch_metadata, work_order_metadata, audit_metadata,
             user_metadata, subsidy_metadata, match_job_metadata)  # fmt: skip
    for md in every:
        for table in md.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), combined)
    assert [d for d in diff if d[0] != "remove_index"] == []


def test_ping_names_the_dialect(engine: Engine) -> None:
    assert ping(engine) in {"sqlite", "postgresql"}
