"""The document registry: which documents are in the knowledge base, at which content hash.

States: ``indexing`` (its points are being written: an interrupted run redoes it),
``chunked`` (text and BM25 are in the index: keyword search finds it), ``ready`` (every chunk
also has its dense vector), ``held`` (stored, but a sentence in it reads as an instruction to the
assistant: no search finds it until an admin releases it; the flagged sentences are kept with the
row, see :meth:`DocumentRegistry.flags`). ``content_hash`` covers the file's bytes and its sidecar, so an
unchanged file is recognised without being parsed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)

from knowledge.documents import DocumentMeta, PolicyDocument
from knowledge.errors import DocumentNotHeldError
from tools.db import upsert

metadata = MetaData()

kb_documents = Table(
    "kb_documents",
    metadata,
    Column("doc_id", String(32), primary_key=True),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("chunks", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

RegistryStatus = Literal["indexing", "chunked", "ready", "held"]
_FLAGS = "injection_flags"  # the key in ``meta.extra`` holding a held document's flagged sentences (JSON)


@dataclass(frozen=True)
class RegisteredDocument:
    """One registry row."""

    doc_id: str
    source: str
    content_hash: str
    meta: DocumentMeta
    chunks: int
    status: RegistryStatus


class DocumentRegistry:
    """Registry rows in the relational database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, doc_id: str) -> RegisteredDocument | None:
        """The row of ``doc_id``, if any."""
        with self._engine.connect() as conn:
            row = conn.execute(select(kb_documents).where(kb_documents.c.doc_id == doc_id)).mappings().first()
        return _row(row) if row else None

    def all(self) -> list[RegisteredDocument]:
        """Every row, by source."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(kb_documents).order_by(kb_documents.c.source)).mappings().all()
        return [_row(r) for r in rows]

    def by_id(self) -> dict[str, RegisteredDocument]:
        """Every row, keyed by document id (one query, for a whole ingestion run)."""
        return {row.doc_id: row for row in self.all()}

    def set_status(self, old: RegistryStatus, new: RegistryStatus) -> int:
        """Move every row in ``old`` to ``new``; the number moved."""
        with self._engine.begin() as conn:
            result = conn.execute(update(kb_documents).where(kb_documents.c.status == old).values(status=new))
        return int(result.rowcount or 0)

    def update_meta(self, doc_id: str, meta: DocumentMeta) -> None:
        """Replace the stored metadata of a document (e.g. when a newer version supersedes it)."""
        payload = json.dumps(meta.to_payload(), ensure_ascii=False)
        with self._engine.begin() as conn:
            conn.execute(update(kb_documents).where(kb_documents.c.doc_id == doc_id).values(meta=payload))

    def mark(self, doc: PolicyDocument, status: RegistryStatus, chunks: int = 0, file_hash: str = "") -> None:
        """Insert or update the row of ``doc`` (``file_hash``: of its bytes and sidecar)."""
        values = {
            "doc_id": doc.doc_id,
            "source": doc.meta.source,
            "content_hash": file_hash or doc.content_hash,
            "title": doc.meta.title,
            "meta": json.dumps(doc.meta.to_payload(), ensure_ascii=False),
            "chunks": chunks,
            "status": status,
            "updated_at": datetime.now(UTC),
        }
        upsert(self._engine, kb_documents, [values], "doc_id")

    def hold(self, doc: PolicyDocument, chunks: int, file_hash: str, flags: list[dict[str, Any]]) -> None:
        """Register ``doc`` as ``held``, with the sentences that made it so."""
        extra = {**doc.meta.extra, _FLAGS: json.dumps(flags, ensure_ascii=False)}
        self.mark(replace(doc, meta=replace(doc.meta, extra=extra)), "held", chunks, file_hash)

    def flags(self, row: RegisteredDocument) -> list[dict[str, Any]]:
        """The flagged sentences of a held document (empty for any other)."""
        raw = row.meta.extra.get(_FLAGS)
        flags: list[dict[str, Any]] = json.loads(raw) if raw else []
        return flags

    def release(self, doc_id: str) -> RegisteredDocument:
        """Move a held document to ``chunked`` (its flags are dropped); the updated row."""
        row = self.get(doc_id)
        if row is None or row.status != "held":
            raise DocumentNotHeldError(f"no held document with id {doc_id}")
        meta = replace(row.meta, extra={k: v for k, v in row.meta.extra.items() if k != _FLAGS})
        with self._engine.begin() as conn:
            conn.execute(
                update(kb_documents)
                .where(kb_documents.c.doc_id == doc_id, kb_documents.c.status == "held")
                .values(
                    status="chunked",
                    meta=json.dumps(meta.to_payload(), ensure_ascii=False),
                    updated_at=datetime.now(UTC),
                )
            )
        return replace(row, meta=meta, status="chunked")

    def remove(self, doc_id: str) -> None:
        """Delete the row of ``doc_id``."""
        with self._engine.begin() as conn:
            conn.execute(delete(kb_documents).where(kb_documents.c.doc_id == doc_id))


def _row(row: object) -> RegisteredDocument:
    data = dict(row)  # type: ignore[call-overload]
    return RegisteredDocument(
        doc_id=data["doc_id"],
        source=data["source"],
        content_hash=data["content_hash"],
        meta=DocumentMeta.from_payload(json.loads(data["meta"])),
        chunks=data["chunks"],
        status=data["status"],
    )
