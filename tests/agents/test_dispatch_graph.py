"""The dispatch graph: auto-dispatch, review resumed after a restart, changes, merges, LLM adjudication."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from agents.dispatch import DispatchDeps, ReviewError, build_graph, thread, validate_decision
from eval.bench.fakes import ScriptedLLM
from service.demo_city import DOCUMENTS_DIR, WORK_ORDERS_CSV
from tools.db import DatabaseSettings, make_engine, migrate
from tools.dispatch.duties import DutyTable
from tools.dispatch.history import DispatchHistory, read_history
from tools.dispatch.model import DispatchModel, TrainingOrder
from tools.llm import NullLLMClient
from tools.work_orders import NewWorkOrder, State, WorkOrderStore

SNAPSHOT = Path(__file__).parent / "snapshots" / "dispatch_graph.mmd"


@pytest.fixture(scope="module")
def model() -> DispatchModel:
    rows, _ = read_history(WORK_ORDERS_CSV)
    orders = [TrainingOrder.from_history_row(r) for r in rows]
    return DispatchModel(
        DutyTable.from_document(DOCUMENTS_DIR / "23-12345热线派单目录及部门权责清单.md")
    ).fit(orders)


@pytest.fixture
def deps(tmp_path: Path, model: DispatchModel) -> DispatchDeps:
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    return DispatchDeps(WorkOrderStore(engine), model, NullLLMClient(), DispatchHistory(engine))


@pytest.fixture
async def saver(tmp_path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    async with aiosqlite.connect(tmp_path / "checkpoints.db") as conn:
        yield AsyncSqliteSaver(conn)


def report(deps: DispatchDeps, text: str) -> str:
    return deps.store.create(NewWorkOrder(text=text), "resident")[0].ticket


async def test_confident_orders_can_dispatch_themselves(deps: DispatchDeps, saver: AsyncSqliteSaver) -> None:
    deps.auto_dispatch = True
    ticket = report(deps, "北岭区建设路98号供水管道爆裂，水喷得很高，路面已经被淹")
    result = await build_graph(deps, saver).ainvoke({"ticket": ticket}, thread(ticket))
    order = deps.store.get(ticket)
    assert order.state == State.DISPATCHED and order.department == "示例市供水集团有限公司"
    assert result["outcome"] == "已派发至 示例市供水集团有限公司（自动派发）" and result["source"] == "auto"
    assert [e.actor for e in deps.store.events(ticket)][-1] == "auto-dispatch"
    assert deps.history.by_source("auto")[0]["order_id"] == ticket


async def test_review_interrupt_survives_a_restart(deps: DispatchDeps, tmp_path: Path) -> None:
    ticket = report(deps, "湖滨路一家餐馆油烟直排，家里窗户都是油")
    async with aiosqlite.connect(tmp_path / "cp.db") as conn:
        first = await build_graph(deps, AsyncSqliteSaver(conn)).ainvoke({"ticket": ticket}, thread(ticket))
    pending = first["__interrupt__"][0].value
    assert pending["suggestion"]["departments"][0]["department"] == "市生态环境局"
    assert deps.store.get(ticket).state == State.REPORTED  # nothing dispatched before the caseworker decides
    async with aiosqlite.connect(tmp_path / "cp.db") as conn:  # a new process: new graph, same checkpoints
        graph = build_graph(deps, AsyncSqliteSaver(conn))
        done = await graph.ainvoke(
            Command(resume={"action": "approve", "actor": "caseworker-7"}), thread(ticket)
        )
    assert done["outcome"] == "已派发至 市生态环境局（审核同意）" and done["source"] == "review:approved"
    assert deps.store.get(ticket).state == State.DISPATCHED
    assert deps.store.events(ticket)[-1].actor == "caseworker-7"


async def test_a_changed_department_is_recorded_for_retraining(
    deps: DispatchDeps, saver: AsyncSqliteSaver
) -> None:
    ticket = report(deps, "小区门口有人摆摊卖菜占了人行道")
    graph = build_graph(deps, saver)
    await graph.ainvoke({"ticket": ticket}, thread(ticket))
    decision = {
        "action": "change",
        "actor": "caseworker-2",
        "department": "市城市管理局",
        "reason": "占道经营属城管",
    }
    done = await graph.ainvoke(Command(resume=decision), thread(ticket))
    assert deps.store.get(ticket).department == "市城市管理局"
    assert done["outcome"].endswith("（审核改派）") and done["source"] == "review:changed"
    assert deps.history.by_source("review:changed")[0]["department"] == "市城市管理局"


async def test_duplicates_go_to_review_and_can_be_merged(deps: DispatchDeps, saver: AsyncSqliteSaver) -> None:
    deps.auto_dispatch = True  # even so: a possible 一件事 needs a person
    first = report(deps, "建设路98号下水道堵塞，污水漫到路面")
    second = report(deps, "建设路98号下水道又堵了，污水漫到路面，臭气熏天")
    graph = build_graph(deps, saver)
    paused = await graph.ainvoke({"ticket": second}, thread(second))
    assert [d["ticket"] for d in paused["__interrupt__"][0].value["duplicates"]] == [first]
    await graph.ainvoke(
        Command(resume={"action": "merge", "actor": "cw", "merged_into": first}), thread(second)
    )
    merged = deps.store.get(second)
    assert merged.state == State.MERGED and merged.merged_into == first


async def test_low_confidence_asks_the_llm_and_shows_its_choice(
    deps: DispatchDeps, saver: AsyncSqliteSaver
) -> None:
    deps.review_threshold = 1.1  # every order counts as uncertain
    ticket = report(deps, "幸福路的下水道井盖丢了，很危险")
    candidates = [d.department for d in deps.model.suggest("", "幸福路的下水道井盖丢了，很危险").departments]
    llm = deps.llm = ScriptedLLM([{"choice": candidates[1], "reason": "职责相符"}])
    graph = build_graph(deps, saver)
    paused = await graph.ainvoke({"ticket": ticket}, thread(ticket))
    shown = paused["__interrupt__"][0].value["adjudication"]
    assert shown["choice"] == candidates[1] and shown["source"] == "model"
    prompt = llm.prompts[0][1]["content"]
    assert all(c in prompt for c in candidates)  # every candidate with its duties in view
    done = await graph.ainvoke(Command(resume={"action": "approve", "actor": "cw"}), thread(ticket))
    assert deps.store.get(ticket).department == candidates[1]
    assert done["prompt_ids"] == ["dispatch.adjudicate.v1"]


async def test_a_garbled_llm_answer_falls_back_to_the_caseworker(
    deps: DispatchDeps, saver: AsyncSqliteSaver
) -> None:
    deps.review_threshold = 1.1
    llm = deps.llm = ScriptedLLM(
        ["好的，我认为应该派给城管", '{"choice": "不在名单上的单位", "reason": "猜的"}']
    )
    ticket = report(deps, "路灯坏了一个星期了")
    paused = await build_graph(deps, saver).ainvoke({"ticket": ticket}, thread(ticket))
    shown = paused["__interrupt__"][0].value["adjudication"]
    assert shown["choice"] == "需人工" and shown["source"] == "fallback"  # invalid twice: retried once, then
    assert len(llm.prompts) == 2 and llm.script.failures == []  # the fallback; both answers were asked for


def test_decisions_are_validated_before_resuming() -> None:
    with pytest.raises(ReviewError, match="department"):
        validate_decision({"action": "change", "actor": "cw"})
    with pytest.raises(ReviewError, match="action"):
        validate_decision({"action": "dispatch", "actor": "cw"})
    with pytest.raises(ReviewError, match="reason"):
        validate_decision({"action": "send_back", "actor": "cw"})


def test_graph_topology_snapshot(deps: DispatchDeps) -> None:
    drawn = build_graph(deps, None).get_graph().draw_mermaid()
    if os.environ.get("UPDATE_SNAPSHOTS"):  # a deliberate change: rewrite, then review the diff
        SNAPSHOT.write_text(drawn)
    assert SNAPSHOT.exists(), f"missing {SNAPSHOT}: run with UPDATE_SNAPSHOTS=1 and commit it"
    assert drawn == SNAPSHOT.read_text(), (
        "the graph changed: rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    )
