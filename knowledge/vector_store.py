"""Open the Qdrant vector store the settings name: embedded on disk, in memory, or a server."""

from __future__ import annotations

from pathlib import Path

from qdrant_client import QdrantClient

from knowledge.config import VectorStoreSettings
from knowledge.errors import VectorStoreUnavailableError


def open_qdrant(settings: VectorStoreSettings, default_path: Path) -> QdrantClient:
    """A client for the configured store.

    Local mode keeps one folder that only one process may open at a time (qdrant-client's
    lock); a second opener gets :class:`VectorStoreUnavailableError` saying so.
    """
    try:
        if settings.mode == "memory":
            return QdrantClient(":memory:")
        if settings.mode == "server":
            if not settings.url:
                raise VectorStoreUnavailableError("vector_store.mode=server needs vector_store.url")
            key = settings.api_key.get_secret_value() if settings.api_key else None
            return QdrantClient(url=settings.url, api_key=key, timeout=int(settings.timeout_s))
        path = settings.path or default_path
        path.mkdir(parents=True, exist_ok=True)
        return QdrantClient(path=str(path))
    except (RuntimeError, ValueError, OSError) as exc:
        where = settings.url if settings.mode == "server" else (settings.path or default_path)
        raise VectorStoreUnavailableError(f"cannot open the vector store at {where}: {exc}") from exc


def ping(client: QdrantClient) -> int:
    """Number of collections; raises :class:`VectorStoreUnavailableError` when unreachable."""
    try:
        return len(client.get_collections().collections)
    except Exception as exc:  # qdrant-client raises transport-specific types
        raise VectorStoreUnavailableError(f"vector store did not answer: {exc}") from exc
