"""An engine on each supported database, schema migrated (PostgreSQL in a throw-away schema)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tools.db import DatabaseSettings, make_engine

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database of each kind (the PostgreSQL case skips, saying so, when none answers)."""
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
    eng = make_engine(DatabaseSettings(url=f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"), tmp_path)
    yield eng
    eng.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
