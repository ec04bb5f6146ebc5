"""Run llama.cpp's OpenAI-compatible server as a supervised child process.

The service starts it on a free loopback port, waits until ``/v1/models`` answers,
and stops it on exit. On Linux the child also gets ``PR_SET_PDEATHSIG`` so it dies
with the service even when the service is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx

from tools.llm.assembly import QWEN25_CODER_15B, assemble, check_gguf
from tools.llm.config import EMBEDDED_MODEL_ALIAS, LLMSettings
from tools.llm.errors import LLMUnavailableError, ModelAssetError

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def resolve_model_path(settings: LLMSettings, model_dir: Path) -> Path:
    """``llm.gguf_path`` when set (checked to be a GGUF file), else the packaged model, assembled."""
    if settings.gguf_path is not None:
        check_gguf(settings.gguf_path)
        return settings.gguf_path
    return assemble(QWEN25_CODER_15B, model_dir)


def model_alias(settings: LLMSettings) -> str:
    """The model name the embedded server answers to."""
    if settings.model:
        return settings.model
    return settings.gguf_path.stem if settings.gguf_path else EMBEDDED_MODEL_ALIAS


class EmbeddedServer:
    """One llama.cpp server child process."""

    def __init__(self, settings: LLMSettings, model_dir: Path, log_dir: Path) -> None:
        self._settings = settings
        self._model_dir = model_dir
        self._log_path = log_dir / "llama-server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible URL (``http://127.0.0.1:PORT/v1``)."""
        if self.port is None:
            raise LLMUnavailableError("the embedded model server has not been started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self, model_path: Path, port: int) -> list[str]:
        """The command line of the child process."""
        threads = self._settings.threads or (os.cpu_count() or 2)
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model_path),
            "--model_alias", model_alias(self._settings),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(self._settings.n_ctx),
            "--n_threads", str(threads),
            "--n_threads_batch", str(threads),
            "--chat_format", "chatml-function-calling",
        ]  # fmt: skip

    def start(self, *, model_path: Path | None = None) -> str:
        """Start the server and wait until it answers; return its base URL."""
        if self.running:
            return self.base_url
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError as exc:
            raise ModelAssetError(
                "llama-cpp-python[server] is not installed; install the embedded extra "
                "(pip install -c constraints.txt -e '.[embedded]') or set CITYAGENT_LLM__BACKEND=vllm|none"
            ) from exc
        path = model_path or resolve_model_path(self._settings, self._model_dir)
        self.port = free_port()
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self._log_path.open("ab")
        logger.info("starting embedded model server on port %s with %s", self.port, path.name)
        self._proc = subprocess.Popen(
            self.command(path, self.port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        self._wait_ready()
        return self.base_url

    def _wait_ready(self, sleep: Callable[[float], None] = time.sleep) -> None:
        deadline = time.monotonic() + self._settings.startup_timeout_s
        url = f"{self.base_url}/models"
        while time.monotonic() < deadline:
            if not self.running:
                code = self._proc.returncode if self._proc else None
                self.stop()
                raise LLMUnavailableError(
                    f"the embedded model server exited with code {code} while starting; "
                    f"last lines of {self._log_path}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == httpx.codes.OK:
                    logger.info("embedded model server ready at %s", self.base_url)
                    return
            sleep(0.25)
        self.stop()
        raise LLMUnavailableError(
            f"the embedded model server did not answer within {self._settings.startup_timeout_s:.0f}s; "
            f"see {self._log_path}"
        )

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
            logger.info("embedded model server stopped")
        if self._log is not None:
            self._log.close()
            self._log = None
