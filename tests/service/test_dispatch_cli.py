"""dispatch train / suggest / eval from the command line, on any city's export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tools.dispatch.evaluation import evaluate, split
from tools.dispatch.model import TrainingOrder

DEPTS = {
    "供水": ("水务集团", ["自来水停了", "水管爆裂漏水", "水压太低", "自来水发黄"]),
    "路灯": ("城管局", ["路灯不亮", "路灯坏了一排", "夜里路灯全灭", "路灯闪烁"]),
    "噪音": ("公安局", ["楼下喧哗扰民", "半夜聚会吵闹", "酒吧噪音很大", "邻居深夜吵架"]),
}


def write_export(path: Path, encoding: str, extra_rows: str = "") -> Path:
    lines = ["编号,内容,承办单位"]
    n = 0
    for _, (dept, texts) in DEPTS.items():
        for i in range(6):
            n += 1
            lines.append(f"K{n},{texts[i % 4]}，地点在幸福路{i}号，请尽快处理,{dept}")
    path.write_bytes(("\n".join(lines) + "\n" + extra_rows).encode(encoding))
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "none")
    return tmp_path


COLUMNS = ["--text-column", "内容", "--department-column", "承办单位", "--title-column", "",
           "--category-column", "", "--urgency-column", "", "--id-column", "编号"]  # fmt: skip


def test_train_suggest_eval_on_a_gb18030_export(env: Path) -> None:
    export = write_export(env / "export.csv", "gb18030", extra_rows="K99,,水务集团\n")
    runner = CliRunner()
    trained = runner.invoke(app, ["dispatch", "train", "--history", str(export), *COLUMNS])
    assert trained.exit_code == 0, trained.output
    assert "on 18 orders, 3 departments" in trained.output
    assert "line 20" in trained.output  # the row with an empty text, named
    suggested = runner.invoke(app, ["dispatch", "suggest", "幸福路的路灯全都不亮了"])
    assert suggested.exit_code == 0, suggested.output
    body = json.loads(suggested.output[suggested.output.index("{") :])
    assert body["departments"][0]["department"] == "城管局"
    evaluated = runner.invoke(
        app, ["dispatch", "eval", "--history", str(export), *COLUMNS, "--test-fraction", "0.3", "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)
    assert metrics["test_orders"] == 6 and 0 <= metrics["macro_f1"] <= 1
    assert metrics["skipped"]["history"]["skipped_lines"] == [20]
    table = runner.invoke(app, ["dispatch", "eval", "--history", str(export), *COLUMNS])
    assert table.exit_code == 0 and "baseline char1-3 LinearSVC" in table.output


def test_a_missing_column_is_one_clear_line(env: Path) -> None:
    export = write_export(env / "export.csv", "utf-8")
    result = CliRunner().invoke(app, ["dispatch", "train", "--history", str(export)])  # default column names
    assert result.exit_code == 2
    assert "missing columns 诉求内容, 处置部门" in result.output
    assert "Traceback" not in result.output


def test_suggest_without_a_model_says_how_to_get_one(env: Path) -> None:
    result = CliRunner().invoke(app, ["dispatch", "suggest", "路灯不亮"])
    assert result.exit_code == 2
    assert "cityagent dispatch train" in result.output


def test_split_keeps_single_order_departments_in_training() -> None:
    orders = [TrainingOrder(str(i), "", f"文本{i}", "甲" if i < 10 else "乙") for i in range(11)]
    train, test = split(orders, 0.3, seed=1)
    assert {o.department for o in test} == {"甲"} and "乙" in {o.department for o in train}
    with pytest.raises(ValueError, match="between 0 and 1"):
        split(orders, 1.5, seed=1)
    with pytest.raises(ValueError, match="too small"):
        evaluate(orders[:1] * 10, test_fraction=0.01)
