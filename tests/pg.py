"""A throw-away PostgreSQL schema for tests (skipped, saying so, when no server answers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def schema_url(schema: str, url: str = PG_ADMIN_URL) -> str:
    """``url`` with ``schema`` as the connection's search path."""
    return f"{url}?options=-csearch_path%3D{schema}"


@contextmanager
def throwaway_schema(prefix: str) -> Iterator[str]:
    """Create a uniquely named schema, yield its name, drop it with everything in it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
    except OperationalError:
        admin.dispose()
        pytest.skip("no PostgreSQL answers on 127.0.0.1:5432")
    try:
        yield name
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()
