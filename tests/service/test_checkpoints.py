"""Conversations are checkpointed in SQLite (default) or PostgreSQL (by URL), and survive a reopen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.resident import ResidentDeps, build_graph
from agents.resident.runner import ResidentAssistant
from service.checkpoints import Checkpoints
from tests.pg import schema_url, throwaway_schema
from tools.db import DatabaseSettings, make_engine, migrate
from tools.llm import NullLLMClient
from tools.work_orders import WorkOrderStore

PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def checkpoint_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with throwaway_schema("cp") as schema:
        yield schema_url(schema, PG)  # the checkpointer speaks psycopg directly: no SQLAlchemy dialect


async def test_a_conversation_survives_closing_and_reopening_the_store(
    checkpoint_url: str | None, tmp_path: Path
) -> None:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    deps = ResidentDeps(retriever=lambda: None, llm=NullLLMClient, store=WorkOrderStore(engine))  # type: ignore[arg-type,return-value]

    async def turn(message: str) -> dict[str, object]:
        checkpoints = Checkpoints(checkpoint_url, tmp_path / "checkpoints.db")
        assistant = ResidentAssistant(build_graph(deps, await checkpoints.open()), None)
        try:
            events = [e async for e in assistant.turn("web:cp", message)]
        finally:
            await checkpoints.close()
        return next(e.data for e in events if e.kind == "answer")  # type: ignore[no-any-return]

    assert (await turn("幸福路12号的路灯坏了"))["route"] == "report"
    confirm = await turn("昨天晚上")
    assert "幸福路12号" in str(confirm["text"]) and "请确认" in str(confirm["text"])
    filed = await turn("确认")
    assert "工单号：SL" in str(filed["text"])
