"""The one settings object: environment names, validation, secrets hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from service.cli import app
from service.settings import load_settings

STRONG = "k" * 48


def test_defaults_are_the_embedded_stack() -> None:
    settings = load_settings()
    assert settings.llm.backend == "embedded"
    assert settings.embeddings.backend == "use"
    assert settings.vector_store.mode == "edge"
    assert settings.database.effective_url(settings.data_dir).startswith("sqlite:///")
    assert settings.llm.effective_structured_mode() == "json_object"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "vllm")
    monkeypatch.setenv("CITYAGENT_LLM__BASE_URL", "http://10.1.2.3:8001/v1")
    monkeypatch.setenv("CITYAGENT_EMBEDDINGS__BATCH_SIZE", "64")
    monkeypatch.setenv("CITYAGENT_SERVER__CORS_ORIGINS", '["https://www.example.gov.cn"]')
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.llm.backend == "vllm"
    assert settings.llm.effective_structured_mode() == "json_schema"
    assert settings.embeddings.batch_size == 64
    assert settings.server.cors_origins == ["https://www.example.gov.cn"]
    assert settings.model_dir == tmp_path / "models"
    assert settings.chat.judge_min == 0.6  # the model judges the clauses by default
    monkeypatch.setenv("CITYAGENT_CHAT__JUDGE_MIN", "null")  # and a city can turn that off
    assert load_settings().chat.judge_min is None


def test_vllm_needs_a_url() -> None:
    with pytest.raises(ValidationError, match="base_url"):
        load_settings(llm={"backend": "vllm"})


def test_unknown_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="backnd"):
        load_settings(llm={"backnd": "none"})


@pytest.mark.parametrize("secret", [None, "changeme", "short-secret"])
def test_production_refuses_a_default_or_weak_secret(secret: str | None) -> None:
    auth = {"secret_key": secret} if secret else {}
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        load_settings(env="prod", auth=auth)


def test_production_starts_with_a_real_secret() -> None:
    assert load_settings(env="prod", auth={"secret_key": STRONG}).env == "prod"


def test_redacted_hides_secrets_and_passwords() -> None:
    settings = load_settings(
        auth={"secret_key": STRONG},
        llm={"backend": "vllm", "base_url": "http://h/v1", "api_key": "sk-real"},
        database={"url": "postgresql+psycopg://city:pw123@127.0.0.1:5432/city"},
    )
    text = json.dumps(settings.redacted())
    assert STRONG not in text and "sk-real" not in text and "pw123" not in text
    assert "city:***@127.0.0.1" in text


def test_cli_config_prints_effective_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITYAGENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYAGENT_AUTH__SECRET_KEY", STRONG)
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["data_dir"] == str(tmp_path)
    assert data["auth"]["secret_key"] == "**********"
    assert data["derived"]["index_path"] == str(tmp_path / "index")


def test_cli_reports_a_bad_setting_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYAGENT_LLM__BACKEND", "gpt")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 2
    assert "invalid setting llm.backend" in result.output
    assert "Traceback" not in result.output
