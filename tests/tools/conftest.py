"""An engine on each supported database, schema migrated (PostgreSQL in a throw-away schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.pg import schema_url, throwaway_schema
from tools.db import DatabaseSettings, make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database of each kind (the PostgreSQL case skips, saying so, when none answers)."""
    if request.param == "sqlite":
        eng = make_engine(DatabaseSettings(), tmp_path)
        yield eng
        eng.dispose()
        return
    with throwaway_schema("t") as schema:
        eng = make_engine(DatabaseSettings(url=schema_url(schema)), tmp_path)
        yield eng
        eng.dispose()
