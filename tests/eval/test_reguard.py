"""Re-checking a run's recorded model answers with another guard, scored like the run (no model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.bench.reguard import main, regard_row

PARKING = "第四条 停车不满15分钟的，免收停车费。残疾人驾驶的专用车辆在道路停车泊位停放的，免收停车费。"
INVENTED = "是的，残疾人坐公交地铁是免费的〔机动车停车管理办法 第四条〕。"


def _row(model_answer: str, answerable: bool, zone: str = "ask") -> dict[str, Any]:
    gold = [{"title": "机动车停车管理办法", "article": "第四条"}] if answerable else []
    return {
        "key": f"s:{zone}{answerable}", "suite": "s", "id": f"{zone}{answerable}", "task": "qa",
        "input": {
            "task": "qa", "question": "残疾人坐公交地铁是不是免费的？", "gold": gold,
            "answerable": answerable,
        },
        "output": {
            "answer": model_answer, "citations": [{"title": "机动车停车管理办法", "article": "第四条"}],
            "contexts": [{"title": "机动车停车管理办法", "article": "第四条", "text": PARKING}],
            "model_answer": model_answer, "gate": {"zone": zone}, "hotline": "12345", "validity": [],
            "query": "",
        },
    }  # fmt: skip


def test_an_invented_yes_recorded_as_run_is_not_covered_under_this_guard() -> None:
    row = regard_row(_row(INVENTED, answerable=False))
    assert row is not None and "没有找到" in row["output"]["answer"] and row["output"]["citations"] == []
    # an answer the clause holds comes through with its citation
    kept = "残疾人驾驶的专用车辆在道路停车泊位停放的，免收停车费〔机动车停车管理办法 第四条〕。"
    again = regard_row(_row(kept, answerable=True))
    assert again is not None and again["output"]["answer"].startswith(kept)
    # nothing recorded from the model: nothing to re-check
    assert regard_row({**_row("", answerable=True)}) is None


def test_the_command_prints_the_run_beside_each_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({"run": "r"}), encoding="utf-8")
    rows = [_row(INVENTED, answerable=False)]
    (run / "items.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    lenient = tmp_path / "lenient_guard.py"  # a guard that lets everything through, as another version
    lenient.write_text(
        "from agents.resident.guard import Verified\n"
        "def verify_answer(answer, clauses, question='', hotline='12345', **_):\n"
        "    return Verified(answer, [0], [])\n",
        encoding="utf-8",
    )
    main([str(run), "--guard-file", str(lenient)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["model_answers"] == 1
    invented = {name: m["invented_answer"]["mean"] for name, m in report["metrics"].items()}
    assert invented == {"as run": 1.0, "this guard": 0.0, str(lenient): 1.0}
