"""The embedded llama.cpp server's supervision (start failures, command line), without the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.llm import LLMRuntime, LLMSettings, ModelAssetError
from tools.llm.embedded import EmbeddedServer, resolve_model_path


def test_command_line_uses_loopback_the_alias_and_function_calling(tmp_path: Path) -> None:
    server = EmbeddedServer(LLMSettings(threads=2, n_ctx=2048), tmp_path, tmp_path)
    cmd = server.command(tmp_path / "m.gguf", 8123)
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--chat_format") + 1] == "chatml-function-calling"
    assert cmd[cmd.index("--model_alias") + 1] == "qwen2.5-coder-1.5b-instruct"
    assert cmd[cmd.index("--n_ctx") + 1] == "2048"


def test_gguf_path_setting_is_checked(tmp_path: Path) -> None:
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    with pytest.raises(ModelAssetError, match="not a GGUF"):
        resolve_model_path(LLMSettings(gguf_path=not_gguf), tmp_path)


async def test_a_server_that_dies_at_start_leaves_a_degraded_runtime(tmp_path: Path) -> None:
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"GGUF" + b"\x00" * 64)  # right magic, unloadable model
    runtime = LLMRuntime(LLMSettings(gguf_path=fake, startup_timeout_s=60), tmp_path, tmp_path / "logs")
    await runtime.start()
    assert runtime.start_error and "exited" in runtime.start_error
    assert not runtime.client.available
    assert not runtime.embedded or not runtime.embedded.running
    await runtime.stop()


async def test_backend_none_needs_no_server(tmp_path: Path) -> None:
    runtime = LLMRuntime(LLMSettings(backend="none"), tmp_path, tmp_path)
    await runtime.start()
    assert runtime.embedded is None
    assert runtime.client.describe == "none"
    await runtime.stop()
