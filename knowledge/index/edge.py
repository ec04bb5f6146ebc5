"""The embedded default: Qdrant's engine in-process (qdrant-edge-py), persisted in one folder.

Measured on 150,000 points of 384 dims (2 cores): writes 20k points/s, dense p95 2.3 ms,
BM25 p95 0.7 ms, filtered dense p95 19 ms, reopens in 0.3 s. qdrant-client's own local
mode is a Python re-implementation that took 182 ms per dense query at 100k points.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

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
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(list(c.any_of)))
    if c.equals is not None:
        return qe.FieldCondition(key=c.key, match=qe.MatchValue(c.equals))
    return qe.FieldCondition(key=c.key, range=qe.RangeDateTime(lt=c.before, gt=c.after))


def _filter(flt: SearchFilter) -> qe.Filter | None:
    must, must_not = conditions(flt)
    if not must and not must_not:
        return None
    return qe.Filter(
        must=[_condition(c) for c in must] or None, must_not=[_condition(c) for c in must_not] or None
    )


def _doc_filter(doc_id: str) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition(key="doc_id", match=qe.MatchValue(doc_id))])


_PAGE = 10_000
_IN_FORCE = qe.FieldCondition(key="excluded", match=qe.MatchValue(0))


def _vectors(point: IndexPoint) -> dict[str, Any]:
    vectors: dict[str, Any] = {SPARSE: qe.SparseVector(point.sparse.indices, point.sparse.values)}
    if point.dense is not None:
        vectors[DENSE] = point.dense
    return vectors


class EdgeIndex:
    """A Qdrant Edge shard in ``path``; only one process may open it at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._shard: Any = None
        self.describe = f"qdrant-edge {path}"

    @property
    def shard(self) -> Any:
        """The open shard (:meth:`ensure` opens or creates it)."""
        if self._shard is None:
            raise KnowledgeError("the vector index is not open: call ensure() first")
        return self._shard

    def ensure(self, dim: int) -> None:
        """Open the shard in ``path``, creating it for ``dim``-wide vectors when it does not exist."""
        if self._shard is not None:
            return
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        try:
            if (self._path / "edge_config.json").is_file():
                self._shard = qe.EdgeShard.load(str(self._path), config)
                return
            self._path.mkdir(parents=True, exist_ok=True)
            self._shard = qe.EdgeShard.create(str(self._path), config)
        except Exception as exc:  # the binding raises plain exceptions with the engine's message
            message = str(exc)
            if "WouldBlock" in message:
                raise VectorStoreUnavailableError(
                    f"the vector index at {self._path} is open in another process (a running service or "
                    "ingestion): stop it first, or point CITYAGENT_VECTOR_STORE__PATH elsewhere"
                ) from exc
            if "size" in message or "dim" in message.lower():
                raise KnowledgeError(
                    f"the vector index at {self._path} was built for another embedding width than {dim}: "
                    "re-ingest into a new data dir or delete the index folder"
                ) from exc
            raise VectorStoreUnavailableError(
                f"cannot open the vector index at {self._path}: {message}"
            ) from exc
        for field in KEYWORD_FIELDS:
            self._shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
        for field in DATE_FIELDS:
            self._shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Datetime))
        self._shard.update(qe.UpdateOperation.create_field_index("excluded", qe.PayloadSchemaType.Integer))

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Write points."""
        if points:
            batch = [qe.Point(p.point_id, _vectors(p), p.payload) for p in points]
            self.shard.update(qe.UpdateOperation.upsert_points(batch))

    def set_dense(self, vectors: Mapping[str, list[float]]) -> None:
        """Add dense vectors."""
        if vectors:
            batch = [qe.PointVectors(pid, {DENSE: vec}) for pid, vec in vectors.items()]
            self.shard.update(qe.UpdateOperation.update_vectors(batch))

    def missing_dense(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Points without a dense vector."""
        flt = qe.Filter(must_not=[qe.HasVectorCondition(DENSE)], must=[_IN_FORCE])
        records, _ = self.shard.scroll(qe.ScrollRequest(limit=limit, filter=flt, with_payload=True))
        return [(str(r.id), dict(r.payload)) for r in records]

    def document_payloads(self, doc_id: str, limit: int) -> list[dict[str, Any]]:
        """One document's point payloads."""
        request = qe.ScrollRequest(limit=limit, filter=_doc_filter(doc_id), with_payload=True)
        records, _ = self.shard.scroll(request)
        return [dict(r.payload) for r in records]

    def payloads(self, point_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Payloads by point id (missing ids left out)."""
        if not point_ids:
            return {}
        records = self.shard.retrieve(list(point_ids), with_payload=True, with_vector=False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def title_counts(self) -> dict[str, int]:
        """Points in force per title (a paged scroll reading the title only)."""
        counts: Counter[str] = Counter()
        offset: Any = None
        flt = qe.Filter(must=[_IN_FORCE])
        while True:
            request = qe.ScrollRequest(offset=offset, limit=_PAGE, filter=flt, with_payload=["title"])
            records, offset = self.shard.scroll(request)
            counts.update(str((r.payload or {}).get("title", "")) for r in records)
            if offset is None or not records:
                return dict(counts)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's points."""
        self.shard.update(qe.UpdateOperation.delete_points_by_filter(_doc_filter(doc_id)))

    def set_document_payload(self, doc_id: str, values: Mapping[str, Any]) -> None:
        """Change payload fields on a document's points."""
        self.shard.update(qe.UpdateOperation.set_payload_by_filter(_doc_filter(doc_id), dict(values)))

    def _query(self, query: Any, using: str, limit: int, flt: SearchFilter) -> list[Scored]:
        request = qe.QueryRequest(
            limit=limit, query=qe.Query.Nearest(query, using=using), filter=_filter(flt), with_payload=True
        )
        return [Scored(str(p.id), float(p.score), dict(p.payload)) for p in self.shard.query(request)]

    def search_dense(self, vector: list[float], limit: int, flt: SearchFilter) -> list[Scored]:
        """Nearest by dense vector."""
        return self._query(vector, DENSE, limit, flt)

    def search_sparse(self, vector: SparseVector, limit: int, flt: SearchFilter) -> list[Scored]:
        """Best by BM25."""
        if not vector.indices:
            return []
        return self._query(qe.SparseVector(vector.indices, vector.values), SPARSE, limit, flt)

    def count(self, *, dense_only: bool = False, in_force: bool = False) -> int:
        """Points (with dense vectors; in force)."""
        if self._shard is None:
            return 0
        must: list[Any] = [
            *([qe.HasVectorCondition(DENSE)] if dense_only else []),
            *([_IN_FORCE] if in_force else []),
        ]
        flt = qe.Filter(must=must) if must else None
        return int(self.shard.count(qe.CountRequest(exact=True, filter=flt)))

    def optimize(self) -> None:
        """Build the HNSW graph now (otherwise the engine does it as segments grow)."""
        self.shard.optimize()

    def flush(self) -> None:
        """Persist pending writes."""
        if self._shard is not None:
            self._shard.flush()

    def close(self) -> None:
        """Flush and release the folder."""
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None

    def destroy(self) -> None:
        """Close and delete the folder (tests, re-index)."""
        self.close()
        shutil.rmtree(self._path, ignore_errors=True)
