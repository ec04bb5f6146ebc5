"""Where conversations are checkpointed: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

logger = logging.getLogger(__name__)


class Checkpoints:
    """Opens and closes the LangGraph checkpointer the settings name."""

    def __init__(self, url: str | None, sqlite_path: Path) -> None:
        self.url = url
        self.sqlite_path = sqlite_path
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

        self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.sqlite_path)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against a process crash
        saver = AsyncSqliteSaver(self._conn)
        await saver.setup()
        return saver

    async def _open_postgres(self, url: str) -> BaseCheckpointSaver[Any]:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: PLC0415
        from psycopg import AsyncConnection  # noqa: PLC0415
        from psycopg.rows import dict_row  # noqa: PLC0415

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            self._conn = await AsyncConnection.connect(
                conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
            )
        except Exception as exc:  # psycopg's OperationalError: say where, not the password
            raise RuntimeError(f"cannot connect to the checkpoint database: {type(exc).__name__}") from exc
        saver = AsyncPostgresSaver(self._conn)
        await saver.setup()
        return saver

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
