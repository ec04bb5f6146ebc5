"""The evaluation harness: suite loading, resumable runs, scores, reports, comparisons and the gate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.resident.runner import TurnEvent
from eval.bench.fakes import Reply
from eval.bench.fast_model import FakeOpenAI
from eval.harness.judge import Judge
from eval.harness.report import compare_runs, gate, render_report, write_summary
from eval.harness.runner import RunConfig, Runner, expectation_failures
from eval.harness.scoring import item_scores, summarise
from eval.harness.suites import load_suite
from service.cli import app

SUITES = Path(__file__).resolve().parents[2] / "eval" / "suites"


def write(path: Path, *lines: Any) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines), "utf-8"
    )
    return path


def test_a_bad_line_is_reported_with_its_number_and_the_rest_loads(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path / "mixed.jsonl",
            {
                "task": "qa",
                "id": "a",
                "question": "养狗要办证吗？",
                "gold": [{"title": "t", "article": "第一条"}],
            },
            "{not json",
            {"task": "qa", "id": "b", "question": "无金标准"},
            {"task": "teleport", "id": "c"},
            {"task": "qa", "id": "a", "question": "重复", "answerable": False},
            {"task": "dispatch", "id": "d", "text": "井盖坏了", "department": "城管"},
        )
    )
    assert [i.id for i in suite.items] == ["a", "d"]
    assert [e.split(": ", 1)[0].rsplit(":", 1)[1] for e in suite.errors] == ["2", "3", "4", "5"]
    assert "needs gold citations" in suite.errors[1] and "duplicate id 'a'" in suite.errors[3]


def test_a_retrieval_suite_line_is_an_answerable_question(tmp_path: Path) -> None:
    """The format of laws_retrieval.v1 and the legal consultations (no task) is qa; half a line is not."""
    suite = load_suite(
        write(
            tmp_path / "consultations.jsonl",
            {
                "id": "c1",
                "question": "房东不退押金怎么办",
                "gold": [{"title": "民法典", "article": "第五百八十五条"}],
            },
            {"id": "c2", "question": "没有金标准"},
        )
    )
    assert [(i.id, i.task) for i in suite.items] == [("c1", "qa")]
    assert suite.items[0].data.get("answerable", True) is True
    assert len(suite.errors) == 1 and "task must be one of" in suite.errors[0]


def test_shipped_suites_load_cleanly_and_have_enough_unanswerable_questions() -> None:
    total = 0
    for name in ("demo_qa.v1", "laws_qa.v1"):
        qa = load_suite(SUITES / f"{name}.jsonl").items
        unanswerable = sum(1 for i in qa if not i.data.get("answerable", True))
        assert unanswerable / len(qa) >= 0.2, name
        total += len(qa)
    assert total >= 150
    shipped = ("demo_qa.v1", "laws_qa.v1", "demo_dispatch.v1", "demo_chat.v1", "demo_subsidy.v1")
    for name in (*shipped, "demo_subsidy.v2"):
        assert load_suite(SUITES / f"{name}.jsonl").errors == []


class CountingModel:
    """A dispatch model that answers from a table and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def suggest(self, title: str, text: str) -> Any:
        self.calls.append(text)
        dept = "供水集团" if "水" in text else "城管局"
        return SimpleNamespace(
            departments=[SimpleNamespace(department=dept), SimpleNamespace(department="街道办")],
            confidence=0.9, category=None, urgency=None,
        )  # fmt: skip


class ScriptedAssistant:
    """Answers every question with one cited clause, or refuses when the question says 火星."""

    async def turn(self, conversation: str, text: str) -> AsyncIterator[TurnEvent]:
        if "火星" in text:
            yield TurnEvent(
                "answer", {"text": "抱歉，没有找到相关规定，请拨打12345。", "route": "out_of_scope"}
            )
            yield TurnEvent("citations", [])
        else:
            yield TurnEvent("token", "需要")
            yield TurnEvent("answer", {"text": "需要办理养犬登记<script>x</script>", "route": "question"})
            yield TurnEvent("citations", [{"title": "示例市养犬管理规定", "label": "第四条"}])
        yield TurnEvent("done", {"route": "question", "latency_ms": 1.0, "model_ms": 0.0})

    async def last_turn(self, conversation: str) -> dict[str, Any]:
        clause = {
            "title": "示例市养犬管理规定",
            "label": "第四条",
            "text": "第四条 养犬登记。",
            "point_id": "p1",
        }
        return {"clauses": [clause], "query": ""}


def services(model: CountingModel) -> Any:
    llm = SimpleNamespace(client=SimpleNamespace(describe="scripted"))
    return SimpleNamespace(
        assistant=ScriptedAssistant(),
        dispatch_model=model,
        llm=llm,
        embedder=SimpleNamespace(name="none"),
        city=SimpleNamespace(hotline="12345"),
    )


def dispatch_suite(tmp_path: Path, n: int = 6) -> Path:
    rows = [{"task": "dispatch", "id": f"d{i}", "text": "水管爆了" if i % 2 else "路灯坏了",
             "department": "供水集团" if i % 2 else "城管局"} for i in range(n)]  # fmt: skip
    return write(tmp_path / "dispatch.jsonl", *rows)


async def test_a_run_resumes_without_redoing_finished_items(tmp_path: Path) -> None:
    model = CountingModel()
    suite = load_suite(dispatch_suite(tmp_path))
    out = tmp_path / "run"
    await Runner(services(model), RunConfig(out=out, limit=4)).run([suite])
    with (out / "items.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"key": "dispatch:d4", "torn li')  # a crash in the middle of writing item 5
    await Runner(services(model), RunConfig(out=out)).run([suite])
    assert len(model.calls) == 6
    keys = [
        json.loads(line)["key"]
        for line in (out / "items.jsonl").read_text().splitlines()
        if line.endswith("}")
    ]
    assert sorted(keys) == [f"dispatch:d{i}" for i in range(6)]
    summary = write_summary(out)["suites"]["dispatch"]
    assert summary["metrics"]["department_accuracy"]["mean"] == 1.0 and summary["department_macro_f1"] == 1.0


def test_qa_scores_on_known_cases() -> None:
    gold = [{"title": "示例市养犬管理规定", "article": "第四条"}]
    contexts = [{"title": "x", "article": "第一条"}, *gold]
    row = {
        "task": "qa", "error": "", "input": {"question": "q", "gold": gold, "reference": "需要办理养犬登记"},
        "output": {"answer": "需要办理养犬登记", "citations": gold, "contexts": contexts},
    }  # fmt: skip
    scores = item_scores(row)
    assert scores["citation_accuracy"] == 1.0 and scores["retrieval_mrr"] == 0.5 and scores["rouge_l"] == 1.0
    assert scores["refusal_correct"] == 1.0 and scores["false_refusal"] == 0.0
    invented = {"task": "qa", "error": "", "input": {"question": "q", "answerable": False},
                "output": {"answer": "办理费用是50元", "citations": [], "contexts": []}}  # fmt: skip
    # 50元 is in no clause it cites (it cites none): a wrong fact as well as an invented answer
    assert item_scores(invented) == {"refusal_correct": 0.0, "invented_answer": 1.0, "wrong_facts": 1.0}


def test_chat_expectations_see_what_the_resident_sees() -> None:
    result = {
        "events": ["notice", "answer"],
        "notice": "请立即拨打119",
        "answer": "请问在哪里？",
        "route": "report",
    }
    assert (
        expectation_failures({"first_event": "notice", "contains": ["119"], "route": "report"}, result) == []
    )
    assert expectation_failures({"ticket": True, "not_contains": ["哪里"]}, result) == [
        "reply contains '哪里'", "no ticket was filed"
    ]  # fmt: skip


async def test_report_compare_and_gate(tmp_path: Path) -> None:
    qa = write(
        tmp_path / "qa.jsonl",
        {
            "task": "qa",
            "id": "dog",
            "question": "养狗要办证吗？",
            "gold": [{"title": "示例市养犬管理规定", "article": "第四条"}],
        },
        {
            "task": "qa",
            "id": "leash",
            "question": "遛狗要拴绳吗？",
            "gold": [{"title": "示例市养犬管理规定", "article": "第五条"}],
        },
        {"task": "qa", "id": "mars", "question": "去火星要签证吗？", "answerable": False},
    )
    suites = [load_suite(qa), load_suite(dispatch_suite(tmp_path, 4))]
    await Runner(services(CountingModel()), RunConfig(out=tmp_path / "a")).run(suites)
    await Runner(services(CountingModel()), RunConfig(out=tmp_path / "b")).run(suites)
    page = render_report(tmp_path / "a").read_text(encoding="utf-8")
    assert (
        "<svg" in page and "citation_accuracy" in page and "<script>" not in page and "&lt;script&gt;" in page
    )
    same = compare_runs(tmp_path / "a", tmp_path / "b")
    assert same["shared_items"] == 7 and same["suites"]["qa"]["citation_accuracy"]["difference"] == 0.0
    summary = write_summary(tmp_path / "a")
    assert summary["suites"]["qa"]["metrics"]["citation_accuracy"]["mean"] == 0.5
    assert gate(summary, {"refusal_correct": 0.9, "dispatch.department_accuracy": 1.0}) == []
    assert gate(summary, {"citation_accuracy": 0.9}) == ["qa.citation_accuracy = 0.5 < 0.9"]
    assert gate(summary, {"faithfulness": 0.7}) == ["faithfulness: no such metric in this run"]
    cli = CliRunner()
    assert (
        cli.invoke(app, ["eval", "gate", str(tmp_path / "a"), "--min", "refusal_correct=0.5"]).exit_code == 0
    )
    assert (
        cli.invoke(app, ["eval", "gate", str(tmp_path / "a"), "--min", "qa.refusal_correct=1.01"]).exit_code
        == 1
    )
    assert (
        cli.invoke(app, ["eval", "gate", str(tmp_path / "a"), "--min", "refusal_correct=high"]).exit_code == 2
    )


@pytest.mark.parametrize("missing", ["meta.json"])
def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path, missing: str) -> None:
    result = CliRunner().invoke(app, ["eval", "report", str(tmp_path)])
    assert result.exit_code == 2 and "not a run folder" in result.output


async def test_a_judge_that_cannot_answer_gives_nans_that_are_counted(tmp_path: Path) -> None:
    class Embed:
        name = "fake"

        def embed_query(self, text: str) -> list[float]:
            return [1.0, 0.0]

    with FakeOpenAI([Reply(status=400)] * 200) as server:
        judge = Judge(server.base_url, "fake-model", Embed(), timeout_s=5)  # type: ignore[arg-type]
        verdict = await judge.score("养狗要办证吗？", "需要登记。", ["第四条 养犬登记。"], "需要办理养犬登记")
    assert set(verdict["raw"]) == {"faithfulness", "answer_relevancy", "context_precision", "context_recall"}
    assert all(verdict[m] != verdict[m] for m in verdict["raw"])  # NaN
    row = {"task": "qa", "suite": "s", "id": "x", "key": "s:x", "error": "", "latency_ms": 1.0,
           "judge": verdict, "input": {"question": "q", "gold": [{"title": "t", "article": "第一条"}]},
           "output": {"answer": "a", "citations": [], "contexts": []}}  # fmt: skip
    metrics = summarise([row])["s"]["metrics"]
    assert metrics["faithfulness"] == {"mean": None, "low": None, "high": None, "n": 0, "nan": 1}


async def test_the_subsidy_suite_runs_on_the_matcher_and_scores_its_decisions(tmp_path: Path) -> None:
    from tests.cities import DEMO_FIELDS  # noqa: PLC0415
    from tools.subsidies.rules import load_rules  # noqa: PLC0415

    rules = load_rules(
        Path(__file__).resolve().parents[2] / "service" / "demo_city" / "pack" / "rules", DEMO_FIELDS
    )
    base = vars(services(CountingModel()))
    subsidies = SimpleNamespace(rules=lambda: rules, dictionary=lambda: DEMO_FIELDS)
    svc = SimpleNamespace(**base, subsidies=subsidies)
    suite = load_suite(SUITES / "demo_subsidy.v2.jsonl")
    assert len(suite.items) >= 30
    out = tmp_path / "run"
    await Runner(svc, RunConfig(out=out)).run([suite])
    rows = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    wrong = [(r["id"], r["output"]["decision"] if r["output"] else r["error"]) for r in rows
             if not r["output"] or r["output"]["decision"] != r["input"]["decision"]]  # fmt: skip
    assert wrong == []
    summary = write_summary(out)["suites"]["demo_subsidy.v2"]
    assert summary["metrics"]["decision_accuracy"]["mean"] == 1.0
    assert summary["metrics"]["missing_fields_exact"]["mean"] == 1.0
    assert summary["metrics"]["amount_abs_error"]["mean"] == 0.0
    assert summary["eligible_f1"] == 1.0
    broken = write(tmp_path / "s.jsonl", {**suite.items[0].data, "id": "x", "policy": "no-such-policy"})
    await Runner(svc, RunConfig(out=tmp_path / "run2")).run([load_suite(broken)])
    (row,) = [json.loads(line) for line in (tmp_path / "run2" / "items.jsonl").read_text().splitlines()]
    assert "no active rule for policy 'no-such-policy'" in row["error"]


def test_worst_items_are_items_that_failed_and_show_what_was_answered() -> None:
    from eval.harness.report import _worst, badness  # noqa: PLC0415

    def qa(item: str, answer: str, article: str) -> dict[str, Any]:
        cited = [{"title": "某办法", "article": article}]
        gold = [{"title": "某办法", "article": "第三条"}]
        question = {
            "question": f"问题{item}",
            "answerable": True,
            "gold": gold,
            "reference": "需要三分之二以上业主同意",
        }
        contexts = [{**cited[0], "text": "…"}]
        output = {"answer": answer, "citations": cited, "contexts": contexts}
        return {"suite": "s", "task": "qa", "id": item, "key": item, "input": question, "output": output}

    right = qa("ok", "需要三分之二以上的业主同意", "第三条")  # correct, but BLEU < 1: not a worst item
    wrong = qa("bad", "需要四分之三以上的业主同意", "第五条")
    subsidy = {
        "suite": "s", "task": "subsidy", "id": "sub", "key": "sub",
        "input": {"decision": "eligible", "amount": 100000.0},
        "output": {"decision": "not_eligible", "amount": None, "missing": []},
    }  # fmt: skip
    assert badness(right)[0] == 0 and badness(wrong)[0] >= 1 and badness(subsidy)[0] == 1
    page = _worst([right, wrong, subsidy], "s")
    assert "bad（" in page and "sub（" in page and "ok（" not in page
    assert "not_eligible" in page and "标准答案" in page and "2 条有判错" in page
