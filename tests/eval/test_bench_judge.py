"""``cityagent bench judge``: the rows it reads off retrieval, gate and judge, and how it scores them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from agents.resident import ResidentDeps
from agents.resident.nodes import ResidentNodes
from eval.bench.fakes import Reply, ScriptedLLM
from eval.bench.judge import (
    JudgeRow,
    choose_judge_min,
    cut_off,
    load_rows,
    read,
    score,
    select,
    table,
    write_rows,
)
from eval.harness.suites import Item, split_of
from knowledge.retriever import Hit
from tools.db import DatabaseSettings, make_engine
from tools.llm import NullLLMClient
from tools.work_orders import WorkOrderStore

LEASE = {
    "doc_id": "d-lease",
    "title": "滨江市住房公积金提取办法",
    "label": "第四条",
    "text": "无房职工租房提取住房公积金的，每月提取额不超过1200元。",
}


class OneHitRetriever:
    """Every question finds the same clause (the judge and the gate read it)."""

    async def search(self, query: str, *, k: int = 4, **_: Any) -> list[Hit]:
        return [Hit("p-lease", 0.95, LEASE, {"dense": 1}, {"dense": 0.95})]


def item(id_: str, question: str, answerable: bool, gold: list[dict[str, str]] | None = None) -> Item:
    data = {"question": question, "answerable": answerable, "gold": gold or []}
    return Item("city_qa", id_, "qa", data)


def nodes(tmp_path: Path, llm: Any) -> ResidentNodes:
    deps = ResidentDeps(
        retriever=OneHitRetriever,  # type: ignore[arg-type]
        llm=lambda: llm,
        store=WorkOrderStore(make_engine(DatabaseSettings(), tmp_path)),
    )
    return ResidentNodes(deps)


async def test_each_question_gets_the_gate_reading_and_the_judges_probability(tmp_path: Path) -> None:
    yes = [("是", math.log(0.8)), ("否", math.log(0.2))]
    no = [("是", math.log(0.1)), ("否", math.log(0.9))]
    llm = ScriptedLLM([Reply("是", logprobs=yes), Reply("否", logprobs=no)])
    items = [
        item("a1", "租房能提多少公积金", True, [{"title": LEASE["title"], "article": "第四条"}]),
        item("u1", "公积金贷款利率是多少", False),
    ]
    rows = await read(nodes(tmp_path, llm), items)
    llm.script.check()
    assert [r.judge_p for r in rows] == [0.8, 0.1]
    assert rows[0].gold_read and not rows[1].gold_read
    assert rows[0].clauses == ["滨江市住房公积金提取办法 第四条"]
    assert rows[0].zone == "ask"  # no fitted gate: the cut-offs, and a 0.95 cosine is evidence
    judge_prompt = llm.prompts[0][1]["content"]
    assert "租房能提多少公积金" in judge_prompt and "1200元" in judge_prompt

    path = tmp_path / "rows.jsonl"
    write_rows(rows, path)
    assert load_rows(path) == rows


async def test_without_a_model_the_rows_carry_no_judge_and_score_the_gate_alone(tmp_path: Path) -> None:
    rows = await read(nodes(tmp_path, NullLLMClient(disabled=True)), [item("a1", "租房提取", True)])
    assert rows[0].judge_p is None and rows[0].error == ""
    result = score(rows, 0.6)
    half = result["halves"][rows[0].split]
    assert set(half["decisions"]) == {"no model"}


def row(
    key: str, split: str, answerable: bool, zone: str, judge_p: float | None, gate_p: float = 0.5
) -> JudgeRow:
    features = {"dense_top": gate_p, "bm25_top": 10 * gate_p}
    return JudgeRow(key, split, answerable, key, gate_p, zone, features, judge_p, 1.0, [], answerable)


def test_the_shipped_decision_lets_the_judge_decide_only_in_the_ask_zone() -> None:
    rows = [
        row("a", "test", True, "answer", 0.1),  # the answer zone stands, whatever the judge says
        row("b", "test", True, "refuse", 0.9),  # so does the refuse zone
        row("c", "test", False, "ask", 0.7),  # the judge says yes: invented
        row("d", "test", False, "ask", 0.3),  # the judge says no: refused
    ]
    decisions = score(rows, 0.6)["halves"]["test"]["decisions"]
    shipped = decisions["gate + judge"]
    assert (shipped["false_refusals"], shipped["invented"]) == (0.5, 0.5)
    alone = decisions["judge alone"]
    assert (alone["false_refusals"], alone["invented"]) == (0.5, 0.5)
    gate = decisions["no model"]
    assert (gate["false_refusals"], gate["invented"]) == (0.5, 1.0)


def test_cut_offs_refuse_at_most_the_budget_of_the_answerable() -> None:
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert cut_off(scores, [True] * 10, 0.0) == 0.1  # nothing may fall below
    assert cut_off(scores, [True] * 10, 0.1) == 0.2  # one of ten may
    rows = [row(f"a{i}", "dev", True, "ask", p) for i, p in enumerate((0.5, 0.7, 0.9))]
    rows += [row("u", "dev", False, "ask", 0.6)]
    assert choose_judge_min(rows, 0.0) == 0.5  # at 0.6 the answerable 0.5 would be refused
    assert choose_judge_min(rows, 0.34) == 0.7


def test_the_combined_decision_is_fitted_on_dev_and_reported_on_test() -> None:
    rows = []
    for i in range(40):
        answerable = i % 2 == 0
        p = 0.8 if answerable else 0.2
        split = "dev" if i < 24 else "test"
        rows.append(row(f"k{i}", split, answerable, "ask", p + (i % 5) * 0.02, gate_p=0.5 + (i % 3) * 0.01))
    result = score(rows, 0.6)
    assert "combined" in result and "combined" not in result["halves"]["dev"]["decisions"]
    combined = result["halves"]["test"]["decisions"]["combined"]
    assert combined["false_refusals"] == 0.0 and combined["invented"] == 0.0
    assert result["halves"]["test"]["auc_judge"] == 1.0
    assert "| test (8/8) | combined | 0.0" in table(result)


def test_balanced_selection_takes_every_unanswerable_item_and_leaves_follow_ups_out() -> None:
    items = [item(f"q{i}", f"问题{i}", i % 4 != 0) for i in range(40)]
    items.append(Item("city_qa", "f1", "qa", {"question": "那呢", "history": ["前一问"], "answerable": True}))
    chosen, follow_ups = select(items, balanced=True, seed=1, limit=None)
    assert follow_ups == 1
    for half in ("dev", "test"):
        mine = [i for i in chosen if split_of(i.id) == half]
        no = sum(not i.data["answerable"] for i in mine)
        assert no == sum(1 for i in items[:40] if split_of(i.id) == half and not i.data["answerable"])
        assert len(mine) - no == no  # as many answerable ones
    again, _ = select(items, balanced=True, seed=1, limit=None)
    assert again == chosen


def test_a_rows_file_that_does_not_fit_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"key": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"rows.jsonl:1: not a judge row"):
        load_rows(path)
