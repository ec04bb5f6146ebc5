"""Where conversations are checkpointed: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from tools.db import SCHEMA_ATTEMPTS, SCHEMA_LOCK, owner_only_file

logger = logging.getLogger(__name__)


class Checkpoints:
    """Opens and closes the LangGraph checkpointer the settings name."""

    def __init__(
        self, url: str | None, sqlite_path: Path, *, pool_size: int = 5, timeout_s: float = 5.0
    ) -> None:
        self.url = url
        self.sqlite_path = sqlite_path
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self._conn: Any = None

    @property
    def describe(self) -> str:
        """``sqlite:PATH`` or ``postgresql`` (no credentials)."""
        return "postgresql" if self.url else f"sqlite:{self.sqlite_path}"

    async def open(self) -> BaseCheckpointSaver[Any]:
        """Connect and create the checkpoint tables if needed."""
        if self.url:
            return await self._open_postgres(self.url)
        import aiosqlite  # noqa: PLC0415 - only the SQLite setting needs it
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: PLC0415

        owner_only_file(self.sqlite_path)  # conversations: only the service's user reads them
        self._conn = await aiosqlite.connect(self.sqlite_path)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against a process crash
        saver = AsyncSqliteSaver(self._conn)
        await saver.setup()
        return saver

    async def _open_postgres(self, url: str) -> BaseCheckpointSaver[Any]:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: PLC0415
        from psycopg.errors import DeadlockDetected  # noqa: PLC0415
        from psycopg.rows import dict_row  # noqa: PLC0415
        from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        # A pool that checks each connection before lending it: after the database restarts, the
        # dead connections are replaced and conversations carry on without restarting the service.
        options = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row, "connect_timeout": 5}
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo, min_size=1, max_size=self.pool_size, open=False, timeout=self.timeout_s,
            check=AsyncConnectionPool.check_connection,
            kwargs=options,
        )  # fmt: skip
        try:
            await pool.open(wait=True, timeout=self.timeout_s)
        except Exception as exc:  # psycopg's PoolTimeout/OperationalError: say where, not the password
            await pool.close()
            raise RuntimeError(f"cannot connect to the checkpoint database: {type(exc).__name__}") from exc
        self._conn = pool
        for attempt in range(1, SCHEMA_ATTEMPTS + 1):
            try:
                async with pool.connection() as conn:  # several workers start at once: one sets up at a time
                    await conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
                    try:
                        await AsyncPostgresSaver(conn).setup()
                    finally:
                        await conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
                break
            except DeadlockDetected:
                # The setup's CREATE INDEX CONCURRENTLY waits for every open transaction, among them another
                # worker's migration waiting for this lock; PostgreSQL breaks the cycle. Setup is idempotent.
                if attempt == SCHEMA_ATTEMPTS:
                    raise
                logger.warning("checkpoint setup met another worker's migration (deadlock); trying again")
                await asyncio.sleep(0.5 * attempt)
        return AsyncPostgresSaver(pool)

    async def close(self) -> None:
        """Close the connection (pool)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
