"""The dense side of the knowledge base: chunk vectors in Qdrant, with citation payloads.

Every point carries what a citation needs (title, article label, heading path, source,
offsets, exact text) and what filters need (region, category, validity dates, repeal),
so a hit never has to be looked up elsewhere to be cited.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from qdrant_client import QdrantClient, models

from knowledge.chunking import Chunk
from knowledge.documents import PolicyDocument
from knowledge.embeddings import Embedder
from knowledge.errors import KnowledgeError, VectorStoreUnavailableError

_NAMESPACE = uuid.UUID("6f1c1f5e-6c1b-4b7e-9a57-2f8a3d5c9e10")
_INDEXED_FIELDS = {
    "doc_id": models.PayloadSchemaType.KEYWORD,
    "region": models.PayloadSchemaType.KEYWORD,
    "category": models.PayloadSchemaType.KEYWORD,
    "repealed": models.PayloadSchemaType.BOOL,
}


def point_id(chunk_key: str) -> str:
    """A stable UUID for a chunk (Qdrant ids are UUIDs or integers)."""
    return str(uuid.uuid5(_NAMESPACE, chunk_key))


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk and its citation."""

    chunk_key: str
    score: float
    payload: dict[str, Any]

    @property
    def citation(self) -> str:
        """``〔标题 第X条〕``."""
        return f"〔{self.payload['title']} {self.payload['label']}〕"


def chunk_payload(doc: PolicyDocument, chunk: Chunk) -> dict[str, Any]:
    """What a point stores for a chunk."""
    meta = doc.meta.to_payload()
    return {
        "chunk_key": chunk.key,
        "doc_id": doc.doc_id,
        "chunk_index": chunk.index,
        "article": chunk.article,
        "label": chunk.label,
        "heading_path": list(chunk.heading_path),
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "title": meta["title"],
        "issuer": meta["issuer"],
        "doc_number": meta["doc_number"],
        "source": meta["source"],
        "region": meta["region"],
        "category": meta["category"],
        "publish_date": meta["publish_date"],
        "effective_date": meta["effective_date"],
        "expiry_date": meta["expiry_date"],
        "repealed": meta["repealed"],
    }


class DenseIndex:
    """Chunk vectors of one Qdrant collection."""

    def __init__(self, client: QdrantClient, collection: str, embedder: Embedder) -> None:
        self._client = client
        self.collection = collection
        self._embedder = embedder

    def ensure_collection(self) -> None:
        """Create the collection for the embedder's width; refuse one made for another width."""
        dim = self._embedder.dim
        try:
            if self._client.collection_exists(self.collection):
                info = self._client.get_collection(self.collection)
                vectors = info.config.params.vectors
                size = vectors.size if isinstance(vectors, models.VectorParams) else None
                if size is not None and size != dim:
                    raise KnowledgeError(
                        f"collection {self.collection!r} holds {size}-dim vectors but the embedding model "
                        f"{self._embedder.name} makes {dim}-dim ones: use another collection or re-ingest"
                    )
                return
            self._client.create_collection(
                self.collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
            )
            with warnings.catch_warnings():  # local mode ignores payload indexes; a server uses them
                warnings.simplefilter("ignore", UserWarning)
                for name, schema in _INDEXED_FIELDS.items():
                    self._client.create_payload_index(self.collection, name, field_schema=schema)
        except KnowledgeError:
            raise
        except Exception as exc:  # transport-specific errors of qdrant-client
            raise VectorStoreUnavailableError(f"vector store: {exc}") from exc

    def upsert(self, doc: PolicyDocument, chunks: Sequence[Chunk], batch_size: int = 64) -> None:
        """Embed and store ``chunks`` (idempotent: a chunk's point id is derived from its key)."""
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start : start + batch_size]
            vectors = self._embedder.embed_documents([c.text for c in batch])
            points = [
                models.PointStruct(id=point_id(c.key), vector=v.tolist(), payload=chunk_payload(doc, c))
                for c, v in zip(batch, vectors, strict=True)
            ]
            self._client.upsert(self.collection, points=points, wait=True)

    def delete_document(self, doc_id: str) -> None:
        """Remove every point of ``doc_id``."""
        if not self._client.collection_exists(self.collection):
            return
        selector = models.FilterSelector(
            filter=models.Filter(
                must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]
            )
        )
        self._client.delete(self.collection, points_selector=selector, wait=True)

    def count(self) -> int:
        """Number of points."""
        if not self._client.collection_exists(self.collection):
            return 0
        return int(self._client.count(self.collection, exact=True).count)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        region: str | None = None,
        category: str | None = None,
        valid_on: date | None = None,
        include_repealed: bool = False,
    ) -> list[Hit]:
        """The ``limit`` nearest chunks, filtered; repealed documents are left out unless asked for."""
        vector = self._embedder.embed_query(query)
        flt = validity_filter(
            region=region, category=category, valid_on=valid_on, include_repealed=include_repealed
        )
        response = self._client.query_points(
            self.collection, query=vector.tolist(), limit=limit, query_filter=flt, with_payload=True
        )
        return [
            Hit(str(p.payload["chunk_key"]), float(p.score), dict(p.payload))
            for p in response.points
            if p.payload
        ]


def validity_filter(
    *, region: str | None, category: str | None, valid_on: date | None, include_repealed: bool
) -> models.Filter | None:
    """A Qdrant filter for region, category, repeal and validity on a date."""
    must: list[Any] = []
    must_not: list[Any] = []
    if region:
        must.append(models.FieldCondition(key="region", match=models.MatchValue(value=region)))
    if category:
        must.append(models.FieldCondition(key="category", match=models.MatchValue(value=category)))
    if not include_repealed:
        must_not.append(models.FieldCondition(key="repealed", match=models.MatchValue(value=True)))
    if valid_on:
        day = valid_on.isoformat()
        # ISO dates compare correctly as strings; a missing date does not exclude.
        must_not.append(models.FieldCondition(key="expiry_date", range=models.DatetimeRange(lt=day)))
        must_not.append(models.FieldCondition(key="effective_date", range=models.DatetimeRange(gt=day)))
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)
