"""Documents held for an admin's review, and the two ways out: release or reject.

Ingestion holds a document when a sentence in it reads as an instruction to the assistant
(:mod:`knowledge.injection`). Held, its points are stored with ``held=1`` and found by no search.
Releasing it makes it searchable (keyword at once, dense once embedded) and lets it supersede
what it replaces; rejecting it deletes its points and its registry row, so uploading it again
holds it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from knowledge.errors import DocumentNotHeldError
from knowledge.index.base import document_text
from knowledge.ingest import Ingestor
from knowledge.registry import DocumentRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeldDocument:
    """A held document and the sentences that held it (each with offsets into its text)."""

    doc_id: str
    title: str
    source: str
    chunks: int
    flags: list[dict[str, Any]]


class ReviewQueue:
    """The held documents of one knowledge base."""

    def __init__(self, ingestor: Ingestor, registry: DocumentRegistry) -> None:
        self._ingestor = ingestor
        self._registry = registry

    def held(self) -> list[HeldDocument]:
        """Every held document, by source."""
        return [
            HeldDocument(row.doc_id, row.meta.title, row.source, row.chunks, self._registry.flags(row))
            for row in self._registry.all()
            if row.status == "held"
        ]

    def release(self, doc_id: str, *, embed: bool = True) -> HeldDocument:
        """Make a held document searchable; ``DocumentNotHeldError`` when it is not held."""
        row = self._registry.get(doc_id)
        if row is None or row.status != "held":
            raise DocumentNotHeldError(f"no document with id {doc_id} is held for review")
        flags = self._registry.flags(row)
        released = self._registry.release(doc_id)
        excluded = int(released.meta.repealed or bool(released.meta.extra.get("superseded_by")))
        index = self._ingestor.index
        index.set_document_payload(doc_id, {"held": 0, "excluded": excluded})
        index.flush()
        text = document_text(index, doc_id)
        if text:
            self._ingestor.apply_supersessions({doc_id: text})
        if embed:
            self._ingestor.embed_missing()
        logger.info("released after review: %s (%s)", released.meta.title, doc_id)
        return HeldDocument(doc_id, released.meta.title, released.source, released.chunks, flags)

    def reject(self, doc_id: str) -> HeldDocument:
        """Delete a held document (points and row); ``DocumentNotHeldError`` when it is not held."""
        row = self._registry.get(doc_id)
        if row is None or row.status != "held":
            raise DocumentNotHeldError(f"no document with id {doc_id} is held for review")
        flags = self._registry.flags(row)
        self._ingestor.index.delete_document(doc_id)
        self._ingestor.index.flush()
        self._registry.remove(doc_id)
        logger.info("rejected after review: %s (%s)", row.meta.title, doc_id)
        return HeldDocument(doc_id, row.meta.title, row.source, row.chunks, flags)
