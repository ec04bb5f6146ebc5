"""The CLI over the same services: demo load end to end, model preparation, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app


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
