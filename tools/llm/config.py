"""Settings of the LLM runtime (the ``llm`` group of the service settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Backend = Literal["embedded", "vllm", "none"]
StructuredMode = Literal["auto", "json_schema", "json_object", "prompt"]

EMBEDDED_MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"


class LLMSettings(BaseModel):
    """Which model answers, and how the client talks to it.

    ``backend``:
      * ``embedded`` (default) — the service starts llama.cpp's OpenAI-compatible server as a child
        process on the packaged Qwen2.5-Coder-1.5B-Instruct GGUF (or ``gguf_path``).
      * ``vllm`` — any OpenAI-compatible ``base_url`` (vLLM in production).
      * ``none`` — no model; agents run their deterministic degraded paths.
    """

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "embedded"
    base_url: str | None = Field(default=None, description="OpenAI-compatible URL ending in /v1 (vllm).")
    api_key: SecretStr = SecretStr("EMPTY")
    model: str = Field(default="", description="Model name sent to the server; empty: the server's first.")
    gguf_path: Path | None = Field(default=None, description="Any GGUF file for the embedded backend.")
    n_ctx: int = Field(default=4096, ge=512, le=131072)
    threads: int = Field(default=0, ge=0, description="llama.cpp threads; 0 = all cores.")
    timeout_s: float = Field(default=120.0, gt=0, description="Read timeout of one model call.")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=5, description="Retries on connection errors/5xx.")
    startup_timeout_s: float = Field(
        default=180.0, gt=0, description="How long to wait for the embedded server."
    )
    max_concurrent: int = Field(
        default=0, ge=0, le=1024,
        description="Model calls in flight at once; the rest queue in arrival order. 0: 1 for the embedded "
        "server (it decodes one request at a time on CPU), 32 for vllm.",
    )  # fmt: skip
    max_waiting: int = Field(
        default=64, ge=0, le=100_000, description="Calls that may queue; more are refused."
    )
    queue_timeout_s: float = Field(
        default=20.0, gt=0, description="A call that waits longer in the queue gives up (the agent degrades)."
    )
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1, le=32768)
    structured_output: StructuredMode = Field(
        default="auto",
        description="How JSON output is requested: json_schema (vLLM), json_object with a schema "
        "(llama.cpp), or prompt only. auto picks by backend.",
    )

    def effective_max_concurrent(self) -> int:
        """``max_concurrent``, or the backend's default."""
        return self.max_concurrent or (1 if self.backend == "embedded" else 32)

    @model_validator(mode="after")
    def _vllm_needs_url(self) -> LLMSettings:
        if self.backend == "vllm" and not self.base_url:
            raise ValueError("llm.backend=vllm needs llm.base_url (e.g. http://127.0.0.1:8001/v1)")
        return self

    def effective_structured_mode(self) -> StructuredMode:
        """The structured-output mode actually used for this backend."""
        if self.structured_output != "auto":
            return self.structured_output
        return "json_object" if self.backend == "embedded" else "json_schema"
