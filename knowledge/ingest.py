"""Policy documents in: read, chunk by article, embed, store, register.

Incremental by content hash: an unchanged document is skipped, a changed one replaces
its old chunks. A document is registered as ``indexing`` before its vectors are written
and ``ready`` after, so an interrupted run is finished by the next one. A file that
cannot be read is reported with its path and reason, and the others go in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.chunking import chunk_document
from knowledge.dense import DenseIndex
from knowledge.documents import PolicyDocument, make_document, read_sidecar
from knowledge.registry import DocumentRegistry
from tools.csvio import decode_text

logger = logging.getLogger(__name__)

READABLE = {".md", ".markdown", ".txt"}
_SKIP_NAMES = {"_index.md", "README.md", "UPSTREAM-README.md"}


@dataclass
class IngestReport:
    """What an ingestion run did."""

    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line."""
        line = (
            f"{self.documents} documents ingested ({self.chunks} chunks), {self.unchanged} unchanged, "
            f"{len(self.failed)} failed, {self.seconds:.1f}s"
        )
        return line + "".join(f"\n  failed: {path}: {reason}" for path, reason in self.failed)


def discover(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, root) for every readable file under ``paths`` (files or folders), sorted."""
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            found += [(p, path) for p in sorted(path.rglob("*")) if p.is_file() and _wanted(p)]
        else:
            found.append((path, path.parent))
    return found


def _wanted(path: Path) -> bool:
    return (
        path.suffix.lower() in READABLE
        and path.name not in _SKIP_NAMES
        and not path.name.endswith(".meta.json")
    )


def read_document(path: Path, root: Path) -> PolicyDocument:
    """Read one file as a policy document (``ValueError`` saying why when it cannot be read)."""
    if path.suffix.lower() not in READABLE:
        raise ValueError(f"unsupported file type {path.suffix or '(none)'}")
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError("the file is empty")
    text = decode_text(raw, path.name)
    source = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
    return make_document(text, source, read_sidecar(path))


class Ingestor:
    """Puts documents into the dense index and the registry."""

    def __init__(self, index: DenseIndex, registry: DocumentRegistry) -> None:
        self._index = index
        self._registry = registry

    def ingest_document(self, doc: PolicyDocument) -> int | None:
        """Index ``doc``; the number of chunks, or None when it was already there unchanged."""
        known = self._registry.get(doc.doc_id)
        if known and known.status == "ready" and known.content_hash == doc.content_hash:
            return None
        chunks = chunk_document(doc)
        if not chunks:
            raise ValueError("no text to index after the header (no articles or paragraphs found)")
        self._registry.mark(doc, "indexing")
        self._index.delete_document(doc.doc_id)
        self._index.upsert(doc, chunks)
        self._registry.mark(doc, "ready", len(chunks))
        return len(chunks)

    def ingest_paths(
        self, paths: Iterable[Path], progress: Callable[[str], None] | None = None
    ) -> IngestReport:
        """Ingest every readable file under ``paths``."""
        started = time.perf_counter()
        self._index.ensure_collection()
        report = IngestReport()
        for path, root in discover(paths):
            try:
                doc = read_document(path, root)
                count = self.ingest_document(doc)
            except (OSError, ValueError) as exc:
                report.failed.append((str(path), str(exc)))
                logger.warning("not ingested: %s: %s", path, exc)
                continue
            if count is None:
                report.unchanged += 1
            else:
                report.documents += 1
                report.chunks += count
            if progress:
                progress(str(path))
        report.seconds = time.perf_counter() - started
        return report
