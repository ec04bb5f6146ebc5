"""Draft items from audited turns: written masked, never twice, and refused by the runner until labelled."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from eval.harness.drafts import DraftError, UnlabelledDraftError, append_draft, check_suite_name, draft_item
from eval.harness.runner import RunConfig, Runner
from eval.harness.suites import load_suite
from service.cli import app

TURN = {
    "id": 7, "user_text": "我电话13812345678，养狗要办证吗？", "reply": "需要办理养犬登记。",
    "route": "question", "model": "none", "created_at": "2026-12-03T08:00:00+00:00",
}  # fmt: skip
CLAUSE = {
    "title": "某市养犬管理规定",
    "article": "第四条",
    "text": "第四条 养犬实行登记制度。",
    "point_id": "p1",
}


def test_a_turn_becomes_a_masked_unlabelled_qa_draft_once(tmp_path: Path) -> None:
    item = draft_item(TURN, [CLAUSE])
    assert item["status"] == "draft" and item["task"] == "qa" and item["id"] == "audit-7"
    assert "13812345678" not in item["question"] and "养狗要办证吗" in item["question"]
    assert item["retrieved"] == [CLAUSE] and item["answer"] == "需要办理养犬登记。"
    assert "gold" not in item  # the evaluator writes it
    path = append_draft(tmp_path, "audited", item)
    with pytest.raises(DraftError) as again:
        append_draft(tmp_path, "audited", item)
    assert again.value.code == "draft_exists"
    assert [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()] == ["audit-7"]


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "x.jsonl", "", "评测", "a" * 65])
def test_a_draft_suite_name_is_never_a_path(name: str) -> None:
    with pytest.raises(DraftError):
        check_suite_name(name)


async def test_the_runner_refuses_unlabelled_drafts_and_runs_them_once_labelled(tmp_path: Path) -> None:
    path = append_draft(tmp_path, "audited", draft_item(TURN, [CLAUSE]))
    suite = load_suite(path)
    assert suite.items == [] and suite.drafts == ["audit-7"] and suite.errors == []
    services = SimpleNamespace()  # never reached: the refusal comes first
    with pytest.raises(UnlabelledDraftError, match=r"1 unlabelled draft item\(s\): audit-7"):
        await Runner(services, RunConfig(out=tmp_path / "run")).run([suite])  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()
    cli = CliRunner().invoke(app, ["eval", "run", "--suite", str(path), "--out", str(tmp_path / "cli")])
    assert cli.exit_code != 0 and "unlabelled draft" in cli.output and "Traceback" not in cli.output

    row = json.loads(path.read_text(encoding="utf-8"))
    del row["status"]
    row["gold"] = [{"title": CLAUSE["title"], "article": CLAUSE["article"]}]
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    labelled = load_suite(path)
    assert labelled.drafts == [] and [i.id for i in labelled.items] == ["audit-7"]
