"""The one settings object: env prefix ``CITYAGENT_``, nested groups with ``__``.

Each group's schema lives with the package that uses it (``tools.llm.config``,
``knowledge.config``, ``tools.db``); this module composes them. Build it once with
:func:`load_settings` and pass it (or one group of it) down.

Examples::

    CITYAGENT_LLM__BACKEND=vllm CITYAGENT_LLM__BASE_URL=http://10.0.0.5:8001/v1
    CITYAGENT_LLM__GGUF_PATH=/models/qwen2.5-7b-instruct-q4_k_m.gguf
    CITYAGENT_EMBEDDINGS__BACKEND=hf CITYAGENT_EMBEDDINGS__MODEL_PATH=/models/bge-m3
    CITYAGENT_RERANK__BACKEND=vllm-rerank CITYAGENT_RERANK__BASE_URL=http://10.0.0.5:8002
    CITYAGENT_DATABASE__URL=postgresql+psycopg://city@127.0.0.1:5432/city
    CITYAGENT_TELEMETRY__OTLP_ENDPOINT=http://127.0.0.1:4318
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.config import EmbeddingSettings, RerankSettings, RetrievalSettings, VectorStoreSettings
from knowledge.gate import GateModel, shipped
from tools.db import DatabaseSettings
from tools.llm.config import LLMSettings
from tools.telemetry import TelemetrySettings

# The public default of earlier versions: refused everywhere, it signs and verifies nothing.
OLD_PUBLIC_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - a refused value, not a secret
_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "please-change", OLD_PUBLIC_SECRET}
MIN_SECRET_LENGTH = 32


def is_placeholder_secret(value: str) -> bool:
    """Whether ``value`` is empty or a well-known placeholder (never a usable key)."""
    return value.strip().lower() in _PLACEHOLDERS


class AuthSettings(BaseModel):
    """Signing secret, session lifetime and sign-in limits for staff."""

    model_config = ConfigDict(extra="forbid")

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs sessions; unset: a random key generated into data_dir/secret_key (0600). "
        "Required outside dev and to listen beyond loopback.",
    )
    session_ttl_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    login_per_minute: int = Field(default=10, ge=1, description="Sign-in attempts per client address.")
    account_login_per_minute: int = Field(
        default=5, ge=1, description="Sign-in attempts per account (username), from any address."
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin endpoints until staff sign-in exists; unset: disabled.",
    )


class ServerSettings(BaseModel):
    """How the HTTP service listens and what it accepts."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Larger requests get 413.")
    max_upload_bytes: int = Field(default=50_000_000, ge=1024, description="Limit for document uploads.")
    max_concurrent_uploads: int = Field(
        default=2, ge=1, le=64, description="Document uploads read at once per process; more get 429."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="City sites allowed to embed the widget."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics; unset: only loopback clients may scrape."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of reverse proxies whose X-Forwarded-For / X-Real-IP are believed; "
        "empty: the TCP peer is the client.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or CIDR") from exc
        return [entry.strip() for entry in value]


class ChatSettings(BaseModel):
    """The residents' chat: where conversations are kept, limits, and when a passage counts as evidence."""

    model_config = ConfigDict(extra="forbid")

    checkpoint_url: str | None = Field(
        default=None,
        description="postgresql://… keeps conversations in PostgreSQL; unset: data_dir/checkpoints.db.",
    )
    max_message_chars: int = Field(default=1000, ge=10, le=10_000)
    session_per_minute: int = Field(default=20, ge=1)
    ip_per_minute: int = Field(default=120, ge=1)
    session_days: int = Field(default=30, ge=1, le=365)
    min_dense_score: float | None = Field(
        default=None, ge=0, le=1,
        description="Cosine below which a passage is no evidence; unset: the embedding backend's own "
        "(knowledge.config.EVIDENCE_COSINE: each model's cosines sit in a different band).",
    )  # fmt: skip
    min_bm25_score: float = Field(
        default=12.0, ge=0, description="BM25 score below which a passage is no evidence (gate=cutoffs)."
    )
    gate: Literal["calibrated", "cutoffs"] = Field(
        default="calibrated",
        description="Whether the passages answer a question: `calibrated` (knowledge.gate: a model fitted "
        "on labelled questions, the file shipped for the embedding backend or `gate_file`) or `cutoffs` "
        "(min_dense_score / min_bm25_score alone). A backend with no shipped gate uses the cut-offs.",
    )
    gate_file: Path | None = Field(
        default=None, description="A gate fitted with `cityagent eval calibrate-gate` (JSON)."
    )
    judge_min: float | None = Field(
        default=0.6, ge=0, le=1,
        description="With a model: it reads the best clauses and the question, and the probability of its "
        "'是' (they state what is asked) must reach this, else the answer is 'not covered'; at or above it "
        "a model's 资料未涉及 is overruled. Chosen on the dev half of resident_qa.v1 as the highest value "
        "refusing at most 5% of answerable questions. Unset (null): the retrieval gate alone decides.",
    )  # fmt: skip

    def gate_model(self, backend: str) -> GateModel | None:
        """The gate to use (None: the fixed cut-offs); a gate file that does not load stops start-up."""
        if self.gate == "cutoffs":
            return None
        if self.gate_file is not None:
            return GateModel.load(self.gate_file)
        return shipped(backend)


class DispatchSettings(BaseModel):
    """When the dispatch agent asks a caseworker, and whether it may dispatch on its own."""

    model_config = ConfigDict(extra="forbid")

    review_threshold: float = Field(default=0.8, ge=0, le=1, description="Below this confidence: review.")
    auto_dispatch: bool = Field(default=False, description="Dispatch confident orders without review.")
    always_review: bool = Field(default=False, description="Every order goes to a caseworker.")
    gazetteer_path: Path | None = Field(
        default=None,
        description='JSON {"区": {"街道": ["社区", …]}} of place names; unset: the city pack\'s gazetteer.',
    )


class SubsidySettings(BaseModel):
    """Where the 免申即享 rules come from (the database's approved rules by default)."""

    model_config = ConfigDict(extra="forbid")

    rules_dir: Path | None = Field(
        default=None,
        description="Use the rule files of this folder instead of the approved rules in the database.",
    )
    allow_self_approval: bool = Field(
        default=False,
        description="Let the author of a draft rule approve it (one-person offices); by default a second "
        "policy officer must.",
    )


class Open311Settings(BaseModel):
    """The Open311 GeoReport v2 endpoint (``/open311/v2/``): how often client apps may call it."""

    model_config = ConfigDict(extra="forbid")

    post_per_minute: int = Field(default=30, ge=1, description="Requests filed per client app.")
    read_per_minute: int = Field(default=120, ge=1, description="Reads per client address.")


class Settings(BaseSettings):
    """Everything cityagent can be told; see the module docstring for the environment names."""

    model_config = SettingsConfigDict(
        env_prefix="CITYAGENT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        env_parse_none_str="null",  # CITYAGENT_CHAT__JUDGE_MIN=null: a setting that may be unset, unset
    )

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Field(
        default=Path("var"), description="Models, vector store, SQLite and logs live here."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    vector_store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    subsidies: SubsidySettings = Field(default_factory=SubsidySettings)
    open311: Open311Settings = Field(default_factory=Open311Settings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    def scale_out_problems(self) -> list[str]:
        """What stops several API workers from sharing state (empty when they can)."""
        problems = []
        if self.database.effective_url(self.data_dir).startswith("sqlite"):
            problems.append("database.url: work orders, users and audit must be in PostgreSQL")
        if not self.chat.checkpoint_url:
            problems.append("chat.checkpoint_url: conversations must be checkpointed in PostgreSQL")
        if self.vector_store.mode != "server":
            problems.append(
                f"vector_store.mode={self.vector_store.mode}: the embedded index opens in one process "
                "only; use mode=server with a Qdrant server url"
            )
        if self.llm.backend == "embedded":
            problems.append(
                "llm.backend=embedded: every worker would start its own model; serve the model once "
                "(vLLM, or llama.cpp's server) and set llm.backend=vllm with its base_url"
            )
        return problems

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        secret = self.auth.secret_key.get_secret_value() if self.auth.secret_key else None
        generate = "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        if secret and secret.strip() and is_placeholder_secret(secret):  # empty counts as unset
            raise ValueError(
                "CITYAGENT_AUTH__SECRET_KEY is a well-known placeholder: unset it (a random key is then "
                f"generated in the data dir) or set a random value {generate}"
            )
        if self.env != "dev" and (not secret or len(secret.strip()) < MIN_SECRET_LENGTH):
            raise ValueError(
                f"CITYAGENT_AUTH__SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} "
                f"characters when CITYAGENT_ENV={self.env} {generate}"
            )
        return self

    @property
    def model_dir(self) -> Path:
        """Where the assembled GGUF model is cached."""
        return self.data_dir / "models"

    @property
    def log_dir(self) -> Path:
        """Where child-process logs go."""
        return self.data_dir / "logs"

    @property
    def index_path(self) -> Path:
        """The embedded vector index's folder."""
        return self.vector_store.path or self.data_dir / "index"

    def redacted(self) -> dict[str, Any]:
        """The effective settings as JSON-able data, secrets shown as ``**********``."""
        data = self.model_dump(mode="json")
        data["derived"] = {
            "model_dir": str(self.model_dir),
            "index_path": str(self.index_path),
            "database_url": _hide_password(self.database.effective_url(self.data_dir)),
            "structured_output": self.llm.effective_structured_mode(),
        }
        if self.database.url:
            data["database"]["url"] = _hide_password(self.database.url)
        if self.chat.checkpoint_url:
            data["chat"]["checkpoint_url"] = _hide_password(self.chat.checkpoint_url)
        return data


def _hide_password(url: str) -> str:
    """``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and ``overrides``, which win)."""
    return Settings(**overrides)
