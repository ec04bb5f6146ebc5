"""A Qdrant server (or cluster) by URL through qdrant-client; also its in-memory mode for small data.

Same points, same payload and the same BM25-with-IDF sparse vectors as the embedded
index, so an installation moves from one to the other by re-ingesting, with no code change.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from knowledge.errors import KnowledgeError, VectorStoreUnavailableError
from knowledge.index.base import (
    DATE_FIELDS,
    DENSE,
    KEYWORD_FIELDS,
    SPARSE,
    Condition,
    IndexPoint,
    Scored,
    SearchFilter,
    conditions,
)
from knowledge.sparse import SparseVector


def _condition(c: Condition) -> Any:
    if c.any_of:
        return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.any_of)))
    if c.equals is not None:
        return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.equals))
    return models.FieldCondition(key=c.key, range=models.DatetimeRange(lt=c.before, gt=c.after))


def _filter(flt: SearchFilter) -> models.Filter | None:
    must, must_not = conditions(flt)
    if not must and not must_not:
        return None
    return models.Filter(
        must=[_condition(c) for c in must] or None, must_not=[_condition(c) for c in must_not] or None
    )


def _doc_filter(doc_id: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))])


_PAGE = 10_000
_IN_FORCE = models.FieldCondition(key="excluded", match=models.MatchValue(value=0))


def _vectors(point: IndexPoint) -> dict[str, Any]:
    vectors: dict[str, Any] = {
        SPARSE: models.SparseVector(indices=point.sparse.indices, values=point.sparse.values)
    }
    if point.dense is not None:
        vectors[DENSE] = point.dense
    return vectors


class QdrantClientIndex:
    """One collection of a Qdrant reached through qdrant-client."""

    def __init__(self, client: QdrantClient, collection: str, describe: str) -> None:
        self._client = client
        self.collection = collection
        self.describe = describe

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KnowledgeError:
            raise
        except Exception as exc:  # transport-specific errors of qdrant-client
            raise VectorStoreUnavailableError(f"{self.describe}: {what} failed: {exc}") from exc

    def ensure(self, dim: int) -> None:
        """Create the collection, or check that an existing one has ``dim``-wide dense vectors."""
        if self._call("collection check", self._client.collection_exists, self.collection):
            info = self._call("collection info", self._client.get_collection, self.collection)
            params = info.config.params.vectors
            size = params[DENSE].size if isinstance(params, dict) and DENSE in params else None
            if size != dim:
                raise KnowledgeError(
                    f"collection {self.collection!r} holds {size}-dim vectors, "
                    f"the embedding model makes {dim}: use another collection or re-ingest"
                )
            return
        self._call(
            "create collection",
            self._client.create_collection,
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # in-memory mode ignores payload indexes; a server uses them
            warnings.simplefilter("ignore", UserWarning)
            for field in KEYWORD_FIELDS:
                self._client.create_payload_index(self.collection, field, models.PayloadSchemaType.KEYWORD)
            for field in DATE_FIELDS:
                self._client.create_payload_index(self.collection, field, models.PayloadSchemaType.DATETIME)
            self._client.create_payload_index(self.collection, "excluded", models.PayloadSchemaType.INTEGER)

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Write points."""
        if points:
            structs = [
                models.PointStruct(id=p.point_id, vector=_vectors(p), payload=p.payload) for p in points
            ]
            self._call("upsert", self._client.upsert, self.collection, points=structs, wait=True)

    def set_dense(self, vectors: Mapping[str, list[float]]) -> None:
        """Add dense vectors."""
        if vectors:
            batch = [models.PointVectors(id=pid, vector={DENSE: vec}) for pid, vec in vectors.items()]
            self._call(
                "update vectors", self._client.update_vectors, self.collection, points=batch, wait=True
            )

    def missing_dense(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Points without a dense vector."""
        flt = models.Filter(must_not=[models.HasVectorCondition(has_vector=DENSE)], must=[_IN_FORCE])
        records, _ = self._call(
            "scroll", self._client.scroll, self.collection, scroll_filter=flt, limit=limit, with_payload=True
        )
        return [(str(r.id), dict(r.payload or {})) for r in records]

    def document_payloads(self, doc_id: str, limit: int) -> list[dict[str, Any]]:
        """One document's point payloads."""
        records, _ = self._call(
            "scroll", self._client.scroll, self.collection, scroll_filter=_doc_filter(doc_id), limit=limit,
            with_payload=True,
        )  # fmt: skip
        return [dict(r.payload or {}) for r in records]

    def payloads(self, point_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Payloads by point id (missing ids left out)."""
        if not point_ids:
            return {}
        records = self._call(
            "retrieve", self._client.retrieve, self.collection, ids=list(point_ids), with_payload=True,
            with_vectors=False,
        )  # fmt: skip
        return {str(r.id): dict(r.payload or {}) for r in records}

    def title_counts(self) -> dict[str, int]:
        """Points in force per title (a paged scroll reading the title only)."""
        counts: Counter[str] = Counter()
        offset: Any = None
        flt = models.Filter(must=[_IN_FORCE])
        while True:
            records, offset = self._call(
                "scroll", self._client.scroll, self.collection, scroll_filter=flt, limit=_PAGE, offset=offset,
                with_payload=["title"],
            )  # fmt: skip
            counts.update(str((r.payload or {}).get("title", "")) for r in records)
            if offset is None or not records:
                return dict(counts)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's points."""
        selector = models.FilterSelector(filter=_doc_filter(doc_id))
        self._call("delete", self._client.delete, self.collection, points_selector=selector, wait=True)

    def set_document_payload(self, doc_id: str, values: Mapping[str, Any]) -> None:
        """Change payload fields on a document's points."""
        self._call("set payload", self._client.set_payload, self.collection, payload=dict(values),
                   points=_doc_filter(doc_id), wait=True)  # fmt: skip

    def _query(self, query: Any, using: str, limit: int, flt: SearchFilter) -> list[Scored]:
        response = self._call(
            "query",
            self._client.query_points,
            self.collection,
            query=query,
            using=using,
            limit=limit,
            query_filter=_filter(flt),
            with_payload=True,
        )
        return [Scored(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def search_dense(self, vector: list[float], limit: int, flt: SearchFilter) -> list[Scored]:
        """Nearest by dense vector."""
        return self._query(vector, DENSE, limit, flt)

    def search_sparse(self, vector: SparseVector, limit: int, flt: SearchFilter) -> list[Scored]:
        """Best by BM25."""
        if not vector.indices:
            return []
        return self._query(
            models.SparseVector(indices=vector.indices, values=vector.values), SPARSE, limit, flt
        )

    def count(self, *, dense_only: bool = False, in_force: bool = False) -> int:
        """Points (with dense vectors; in force)."""
        if not self._call("collection check", self._client.collection_exists, self.collection):
            return 0
        must: list[Any] = [*([models.HasVectorCondition(has_vector=DENSE)] if dense_only else []),
                           *([_IN_FORCE] if in_force else [])]  # fmt: skip
        flt = models.Filter(must=must) if must else None
        return int(
            self._call("count", self._client.count, self.collection, count_filter=flt, exact=True).count
        )

    def flush(self) -> None:
        """Writes are acknowledged with ``wait=True``: nothing pending."""

    def close(self) -> None:
        """Close the client."""
        self._client.close()
