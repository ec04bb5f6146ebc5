"""The relational database: SQLite by default, PostgreSQL by URL (the ``database`` settings group)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError


class DatabaseError(Exception):
    """The database cannot be reached or refused an operation."""


class DatabaseSettings(BaseModel):
    """``url`` is any SQLAlchemy URL; empty means SQLite at ``<data_dir>/cityagent.db``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="e.g. postgresql+psycopg://user@127.0.0.1:5432/city")
    pool_size: int = Field(default=5, ge=1, le=100)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    statement_timeout_s: float = Field(
        default=30.0, gt=0, description="PostgreSQL: a statement running longer is cancelled."
    )

    def effective_url(self, data_dir: Path) -> str:
        """The URL in use."""
        return self.url or f"sqlite:///{data_dir / 'cityagent.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")  # writers queue behind one another instead of failing
    cursor.close()


def owner_only_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing; take group/other access off if not.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so they follow.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)


def make_engine(settings: DatabaseSettings, data_dir: Path) -> Engine:
    """An engine for the configured database (SQLite in WAL mode with foreign keys on, owner-only)."""
    url = settings.effective_url(data_dir)
    if url.startswith("sqlite"):
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not settings.url:  # the default file in the data dir (a URL of one's own: one's own modes)
            owner_only_file(data_dir / "cityagent.db")
        engine = create_engine(url, connect_args={"timeout": settings.connect_timeout_s})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(
        url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,  # a connection the server dropped (a restart) is replaced, not used
        connect_args={"connect_timeout": int(settings.connect_timeout_s)},
    )
    if engine.dialect.name == "postgresql":
        timeout_ms = int(settings.statement_timeout_s * 1000)

        def _statement_timeout(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {timeout_ms}")
            dbapi_connection.commit()

        event.listen(engine, "connect", _statement_timeout)
    return engine


def ping(engine: Engine) -> str:
    """The database dialect name; raises :class:`DatabaseError` when it does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database did not answer: {exc.__class__.__name__}: {exc}") from exc
    return engine.dialect.name


def upsert(engine: Engine, table: Table, rows: list[dict[str, Any]], key: str) -> int:
    """Insert ``rows``, updating the ones whose ``key`` exists (SQLite and PostgreSQL); the row count."""
    if not rows:
        return 0
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=update), rows)
    return len(rows)


MIGRATIONS_DIR = Path(__file__).parent / "migrations"


SCHEMA_LOCK = 0x63697479  # the advisory lock schema changes take on PostgreSQL ("city")
# Workers starting at once can deadlock over it (one's checkpoint set-up builds indexes concurrently, which
# waits for the other's migration, which waits for the lock); PostgreSQL breaks the cycle and the loser,
# whose work is idempotent, tries again.
SCHEMA_ATTEMPTS = 3


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic; idempotent, safe on every start)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":  # several workers start at once: one migrates at a time
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
            return
        except SQLAlchemyError as exc:
            deadlock = type(getattr(exc, "orig", None)).__name__ == "DeadlockDetected"
            if not deadlock or attempt == SCHEMA_ATTEMPTS:
                raise DatabaseError(f"database migration failed: {exc.__class__.__name__}: {exc}") from exc
            time.sleep(0.5 * attempt)
