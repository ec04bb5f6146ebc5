"""What a waiting resident is told while a turn runs: the ``progress`` events, in order, before the answer.

Over the resident graph with its real checkpoints and store (the harness of test_resident_graph) and a
scripted model and retriever, so each test knows which clauses were found and checks what was said.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agents.resident import progress
from agents.resident.runner import TurnEvent
from tests.agents.test_resident_graph import (
    FUND,
    RESIDENCE,
    Harness,
    ScriptedLLM,
    ScriptedRetriever,
    final,
    hit,
)
from tools.llm import NullLLMClient

FUND_6 = {**FUND, "label": "第六条", "text": "第六条 租房提取实行秒批。"}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[Harness] = []

    async def factory(llm: Any = None, hits: dict[str, list[Any]] | None = None) -> Harness:
        made.append(Harness(tmp_path, llm or NullLLMClient(), ScriptedRetriever(hits or {})))
        await made[-1].start()
        return made[-1]

    yield factory
    for h in made:
        if h.conn is not None:
            await h.conn.close()


def stages(events: list[TurnEvent]) -> list[str]:
    return [e.data["stage"] for e in events if e.kind == "progress"]


def first(events: list[TurnEvent], kind: str) -> int:
    return next(i for i, e in enumerate(events) if e.kind == kind)


async def test_a_question_says_looking_then_what_was_found_where_then_writing_before_the_answer(
    harness: Any,
) -> None:
    answer = "租房提取每次不超过12000元〔示例市住房公积金提取管理办法 第四条〕。"
    h = await harness(ScriptedLLM([answer]), {"公积金": [hit(FUND), hit(FUND_6)], "租房": [hit(RESIDENCE)]})
    events = await h.say("租房公积金每次能取多少？")
    assert stages(events) == ["looking", "found", "writing"]
    found = next(e.data for e in events if e.kind == "progress" and e.data["stage"] == "found")
    assert found["clauses"] == 3
    assert found["documents"] == [
        "示例市住房公积金提取管理办法",
        "示例市居住证办理规定",
    ]  # each document once
    assert found["text"] == "找到 3 条相关条款，来自《示例市住房公积金提取管理办法》《示例市居住证办理规定》"
    # all of it before the first word of the answer, the looking-up line first of all
    kinds = [e.kind for e in events]
    assert kinds.index("progress") == 0 and max(i for i, k in enumerate(kinds) if k == "progress") < first(
        events, "token"
    )
    assert "12000元" in final(events, "answer")["text"]


async def test_nothing_found_is_said_and_no_writing_is_announced(harness: Any) -> None:
    h = await harness(ScriptedLLM())
    events = await h.say("月球上的停车位怎么收费？")
    assert stages(events) == ["looking", "found"]
    assert next(e.data for e in events if e.kind == "progress" and e.data["stage"] == "found") == {
        "stage": "found", "text": progress.NOTHING_FOUND, "clauses": 0, "documents": [],
    }  # fmt: skip
    assert final(events, "answer")["route"] == "out_of_scope"


async def test_a_status_question_says_it_is_looking_up_the_orders_and_a_report_step_says_nothing(
    harness: Any,
) -> None:
    h = await harness()
    report = await h.say("东湖区人民路88号的路灯不亮了，三天前开始的")
    assert stages(report) == []  # a report's next question comes at once: nothing to wait for
    await h.say("确认")
    status = await h.say("我刚才反映的路灯问题现在处理到哪一步了？")
    assert stages(status) == ["checking"] and status[0].data["text"] == progress.CHECKING["status"]


def test_the_found_line_names_three_documents_and_counts_the_rest() -> None:
    clauses = [{"title": f"《文件{i}》"} for i in "甲乙丙丁"] + [{"title": "文件甲"}, {"title": ""}]
    event = progress.found(clauses)
    assert event["text"] == "找到 6 条相关条款，来自《文件甲》《文件乙》《文件丙》等 4 份文件"
    assert event["documents"] == ["文件甲", "文件乙", "文件丙", "文件丁"]


def test_only_a_steps_start_counts_and_only_the_retrieve_update() -> None:
    assert (
        progress.from_task({"id": "1", "name": "retrieve", "input": {}, "triggers": []})["stage"] == "looking"
    )
    assert progress.from_task({"id": "1", "name": "retrieve", "result": {}, "error": None}) is None  # its end
    assert progress.from_task({"id": "2", "name": "answer", "input": {"clauses": []}, "triggers": []}) is None
    assert progress.from_task({"id": "3", "name": "screen", "input": {}, "triggers": []}) is None
    assert progress.from_update({"screen": {"route": "question"}}) is None
    assert progress.from_update({"retrieve": {"clauses": [FUND]}})["clauses"] == 1
