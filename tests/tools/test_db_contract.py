"""The schema, on every database we support: migrations apply, match the code, and are idempotent.

PostgreSQL runs against 127.0.0.1:5432 (CI has it); the test skips, saying so, when none answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from knowledge.registry import metadata as knowledge_metadata
from tools.db import DatabaseSettings, make_engine, migrate, ping
from tools.dispatch.history import metadata as dispatch_metadata
from tools.enterprises.registry import metadata as enterprise_metadata

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(DatabaseSettings(), tmp_path)
        yield eng
        eng.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError:
        pytest.skip("no PostgreSQL answers on 127.0.0.1:5432")
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    eng = make_engine(DatabaseSettings(url=url), tmp_path)
    yield eng
    eng.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_migrations_apply_twice_and_match_the_code(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    assert {"kb_documents", "enterprises", "dispatch_history"} <= set(inspect(engine).get_table_names())
    combined = MetaData()
    for md in (knowledge_metadata, enterprise_metadata, dispatch_metadata):
        for table in md.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), combined)
    assert [d for d in diff if d[0] != "remove_index"] == []


def test_ping_names_the_dialect(engine: Engine) -> None:
    assert ping(engine) in {"sqlite", "postgresql"}
