"""The CLI over the same services: demo load end to end, model preparation, one-line errors."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.demo_city import DOCUMENTS_DIR
from tools.audit import AuditLog, AuditRecord
from tools.db import DatabaseSettings, make_engine, migrate


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "none")
    return tmp_path


@pytest.mark.slow
def test_demo_load_is_complete_and_idempotent(env: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "33 documents ingested" in first.output
    assert "2400 enterprises stored, 0 rows rejected" in first.output
    assert "1200 historical orders stored, 0 rows rejected" in first.output
    second = runner.invoke(app, ["demo", "load"])
    assert "0 documents ingested (0 chunks), 33 unchanged" in second.output
    assert (env / "index").is_dir() and (env / "cityagent.db").is_file()


def test_model_prepare_with_backend_none_says_so(env: Path) -> None:
    result = CliRunner().invoke(app, ["model", "prepare"])
    assert result.exit_code == 0
    assert "no embedded model to prepare" in result.output


def test_model_prepare_checks_a_configured_gguf(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = env / "x.gguf"
    bogus.write_bytes(b"not a model")
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "embedded")
    monkeypatch.setenv("CITYAGENT_LLM__GGUF_PATH", str(bogus))
    result = CliRunner().invoke(app, ["model", "prepare"])
    assert result.exit_code == 2
    assert "is not a GGUF file" in result.output
    assert "Traceback" not in result.output


def test_model_ask_without_a_model_is_one_clear_line(env: Path) -> None:
    result = CliRunner().invoke(app, ["model", "ask", "你好"])
    assert result.exit_code == 2
    assert "llm.backend=none" in result.output


def test_audit_export_filters_and_keeps_personal_data_masked(env: Path) -> None:
    engine = make_engine(DatabaseSettings(), env)
    migrate(engine)
    log = AuditLog(engine)
    log.record(
        AuditRecord(
            "web:a",
            "resident",
            "report",
            "路灯坏了，回电13812345678",
            "已提交",
            "none",
            12.0,
            tool_calls=[{"tool": "work_orders.create"}],
            created_at=datetime(2026, 11, 20, tzinfo=UTC),
        )
    )
    log.record(AuditRecord("web:b", "resident", "question", "养狗要办证吗", "需要", "none", 8.0,
                           chunk_ids=["p1"], created_at=datetime(2026, 11, 22, tzinfo=UTC)))  # fmt: skip
    runner = CliRunner()
    out = env / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", "--out", str(out), "--since", "2026-11-21"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["thread"] == "web:b" and row["chunk_ids"] == ["p1"]
    table = env / "audit.csv"
    assert runner.invoke(app, ["audit", "export", "--out", str(table), "--route", "report"]).exit_code == 0
    (line,) = list(csv.DictReader(table.open(encoding="utf-8")))
    assert line["user_text"] == "路灯坏了，回电138****5678" and "13812345678" not in table.read_text(
        encoding="utf-8"
    )
    bad = runner.invoke(app, ["audit", "export", "--out", str(table), "--since", "yesterday"])
    assert bad.exit_code == 2 and "expected YYYY-MM-DD" in bad.output


def test_ingest_follows_links_and_warns_about_a_path_without_a_readable_file(
    env: Path, tmp_path: Path
) -> None:
    links = tmp_path / "links"
    (links / "sub").mkdir(parents=True)
    (links / "04.md").symlink_to(DOCUMENTS_DIR / "04-住房公积金提取管理办法.md")
    (links / "sub" / "07.md").symlink_to(DOCUMENTS_DIR / "07-生活垃圾分类管理条例.md")
    (tmp_path / "linked").symlink_to(links, target_is_directory=True)  # the argument itself a link
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "rates.xlsx").write_bytes(b"PK")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "linked"), str(odd), "--no-embed"])
    assert result.exit_code == 0, result.output
    assert "2 documents ingested" in result.output
    assert f"warning: no readable file under {odd}: 1 files, none of them" in result.output
    alone = CliRunner().invoke(app, ["ingest", str(odd), "--no-embed"])
    assert "0 documents ingested" in alone.output and "warning: no readable file under" in alone.output
