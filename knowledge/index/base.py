"""The vector index every retrieval path uses, and the filter it understands.

Each point is one chunk: a BM25 sparse vector (always), a dense vector (once embedded),
and a payload with the citation and the fields filters need. ``excluded`` (repealed or
superseded) is stored as 0/1, not a boolean: qdrant-edge-py 0.9 never matches
``MatchValue(True)`` against a boolean payload (Python's bool reaches it as an integer).
``held`` (1: a document held for an admin's review) is never found, whatever the filter says.

Two implementations keep one contract (``tests/knowledge/test_index_contract.py``): Qdrant
Edge in-process (the embedded default) and qdrant-client (a Qdrant server by URL, or in memory).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from knowledge.sparse import SparseVector

DENSE = "dense"
SPARSE = "bm25"
KEYWORD_FIELDS = ("doc_id", "region", "category")
DATE_FIELDS = ("effective_date", "expiry_date")
_NAMESPACE = uuid.UUID("6f1c1f5e-6c1b-4b7e-9a57-2f8a3d5c9e10")


def point_id(chunk_key: str) -> str:
    """A stable UUID for a chunk, so re-writing a chunk never duplicates it."""
    return str(uuid.uuid5(_NAMESPACE, chunk_key))


@dataclass(frozen=True)
class IndexPoint:
    """What is written for one chunk."""

    point_id: str
    sparse: SparseVector
    payload: dict[str, Any]
    dense: list[float] | None = None


@dataclass(frozen=True)
class Scored:
    """One result of one retrieval path."""

    point_id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class SearchFilter:
    """Region, category, validity on a day; repealed and superseded documents out unless asked for.

    ``jurisdiction`` is a deployment's scope: national documents (no region) plus those of the regions it
    names; empty, every region. ``region`` narrows to one region only.
    """

    region: str | None = None
    category: str | None = None
    valid_on: date | None = None
    include_repealed: bool = False
    jurisdiction: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """A filter condition in no library's types: ``key == value``, ``key`` in a set, or before/after a day."""

    key: str
    equals: Any = None
    any_of: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None


def conditions(flt: SearchFilter) -> tuple[list[Condition], list[Condition]]:
    """(must, must_not) for a filter: what "in force", "excluded" and the facets mean, in one place.

    A document without an expiry or effective date is never excluded by the date test.
    """
    must: list[Condition] = []
    must_not: list[Condition] = []
    if flt.region:
        must.append(Condition("region", equals=flt.region))
    if flt.jurisdiction:
        must.append(Condition("region", any_of=("", *flt.jurisdiction)))
    if flt.category:
        must.append(Condition("category", equals=flt.category))
    must_not.append(Condition("held", equals=1))  # held for review: never found, whatever the filter
    if not flt.include_repealed:
        must_not.append(Condition("excluded", equals=1))
    if flt.valid_on:
        day = flt.valid_on.isoformat()
        must_not.append(Condition("expiry_date", before=day))
        must_not.append(Condition("effective_date", after=day))
    return must, must_not


class VectorIndex(Protocol):
    """Store and search chunk points."""

    describe: str

    def ensure(self, dim: int) -> None:
        """Create the store for ``dim``-wide dense vectors, or check an existing one has that width."""
        ...

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Write points (same id: replaced)."""
        ...

    def set_dense(self, vectors: Mapping[str, list[float]]) -> None:
        """Add dense vectors to existing points."""
        ...

    def missing_dense(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` (point id, payload) of points in force that have no dense vector yet.

        Repealed and superseded points (``excluded``) are not embedded: searches leave them out
        unless asked, and then BM25 still finds them. Should one come back into force, the next
        dense phase embeds it.
        """
        ...

    def delete_document(self, doc_id: str) -> None:
        """Remove every point of a document."""
        ...

    def set_document_payload(self, doc_id: str, values: Mapping[str, Any]) -> None:
        """Change payload fields on every point of a document (e.g. mark it superseded)."""
        ...

    def document_payloads(self, doc_id: str, limit: int) -> list[dict[str, Any]]:
        """The payloads of up to ``limit`` points of one document (in no particular order)."""
        ...

    def title_counts(self) -> dict[str, int]:
        """How many points in force each document title has (the law-first ranker's table of laws)."""
        ...

    def payloads(self, point_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Point id → payload of the given points that exist (an audited turn's clauses, by their ids)."""
        ...

    def search_dense(self, vector: list[float], limit: int, flt: SearchFilter) -> list[Scored]:
        """Nearest points by dense vector."""
        ...

    def search_sparse(self, vector: SparseVector, limit: int, flt: SearchFilter) -> list[Scored]:
        """Best points by BM25 (sparse dot product with IDF)."""
        ...

    def count(self, *, dense_only: bool = False, in_force: bool = False) -> int:
        """Number of points (with a dense vector, when ``dense_only``; not excluded, when ``in_force``)."""
        ...

    def flush(self) -> None:
        """Make every write durable."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def document_text(index: VectorIndex, doc_id: str, limit: int = 20_000) -> str | None:
    """A document's text rebuilt from its chunks' offsets (overlaps merged, gaps as line breaks)."""
    payloads = sorted(index.document_payloads(doc_id, limit), key=lambda p: (int(p["start"]), int(p["end"])))
    if not payloads:
        return None
    parts: list[str] = []
    covered = 0
    for p in payloads:
        start, end, text = int(p["start"]), int(p["end"]), str(p["text"])
        if end <= covered:
            continue
        if start > covered and parts:
            parts.append("\n")
        parts.append(text[max(0, covered - start) :])
        covered = end
    return "".join(parts)
