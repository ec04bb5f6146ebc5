"""The vector index: one protocol, Qdrant Edge in-process (default) and qdrant-client (server, memory)."""

from __future__ import annotations

from pathlib import Path

from qdrant_client import QdrantClient

from knowledge.config import VectorStoreSettings
from knowledge.errors import VectorStoreUnavailableError
from knowledge.index.base import IndexPoint, Scored, SearchFilter, VectorIndex, point_id
from knowledge.index.edge import EdgeIndex
from knowledge.index.qdrant_client import QdrantClientIndex

__all__ = [
    "EdgeIndex",
    "IndexPoint",
    "QdrantClientIndex",
    "Scored",
    "SearchFilter",
    "VectorIndex",
    "open_index",
    "point_id",
]


def open_index(settings: VectorStoreSettings, default_path: Path) -> VectorIndex:
    """The index the settings name (not yet opened: call ``ensure(dim)``)."""
    if settings.mode == "edge":
        return EdgeIndex(settings.path or default_path)
    if settings.mode == "memory":
        return QdrantClientIndex(QdrantClient(":memory:"), settings.collection, "qdrant in memory")
    if not settings.url:
        raise VectorStoreUnavailableError("vector_store.mode=server needs vector_store.url")
    key = settings.api_key.get_secret_value() if settings.api_key else None
    client = QdrantClient(url=settings.url, api_key=key, timeout=int(settings.timeout_s))
    return QdrantClientIndex(client, settings.collection, f"qdrant server {settings.url}")
