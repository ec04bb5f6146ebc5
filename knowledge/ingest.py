"""Policy documents in, in two phases, resumable at any point.

Phase 1 (fast): read each file, take its metadata, cut it into article chunks and write
them with their BM25 vectors; the document is then searchable by keyword. Phase 2 (slow):
embed every chunk that has no dense vector yet. A document is registered ``indexing``
before its points are written and ``chunked`` after they are flushed; an interrupted
phase 1 is redone on the next run, and phase 2 simply continues with what is missing, so
a run killed at any moment loses nothing and duplicates nothing (point ids derive from
chunk keys). An unchanged file (same bytes, same sidecar) is skipped without being parsed.

A file that cannot be read (any error of its reader: broken XML in a .docx, a bad zip, a
scanned PDF) is listed in ``failed`` with the reason and the others go in whole. A document
with a sentence that reads as an instruction to the assistant (:mod:`knowledge.injection`) is
stored but ``held``: its points carry ``held=1`` and no search finds them until an admin
releases it (:mod:`knowledge.review`); it supersedes nothing meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from knowledge.chunking import Chunk, chunk_document
from knowledge.documents import PolicyDocument, doc_id_for, make_document, read_sidecar
from knowledge.embeddings import Embedder
from knowledge.index import IndexPoint, VectorIndex, point_id
from knowledge.injection import scan
from knowledge.loaders import READABLE, load_text
from knowledge.registry import DocumentRegistry, RegisteredDocument
from knowledge.sparse import BM25Encoder
from knowledge.supersede import find_supersessions

logger = logging.getLogger(__name__)

_SKIP_NAMES = {"_index.md", "README.md", "UPSTREAM-README.md"}
# Bump when what is indexed for a chunk changes (chunking, context, tokens): every file is
# then re-indexed once, even unchanged ones, because the file hash includes it.
INDEX_SCHEME = "articles+title-context/bm25-rjieba-search-title/v3"
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class _Pending:
    """A document whose points are written but not yet flushed, and its flagged sentences."""

    doc: PolicyDocument
    chunks: int
    digest: str
    flags: list[dict[str, Any]]


def _reader_error(exc: Exception) -> str:
    """A reader's unexpected error as a reason for the uploader (its type and first line, no traceback)."""
    first = (str(exc).splitlines() or [""])[0][:200]
    return (
        f"the file could not be read ({type(exc).__name__}: {first})"
        if first
        else (f"the file could not be read ({type(exc).__name__})")
    )


@dataclass
class IngestReport:
    """What an ingestion run did, and where the time went."""

    documents: int = 0
    chunks: int = 0
    unchanged: int = 0
    removed: int = 0
    superseded: int = 0
    embedded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    held: list[tuple[str, str, int]] = field(default_factory=list)  # (path, doc id, flagged sentences)
    ingested: list[str] = field(default_factory=list)  # paths of the files stored by this run
    empty: list[str] = field(default_factory=list)
    seconds_text: float = 0.0
    seconds_dense: float = 0.0

    def summary(self) -> str:
        """A few lines for the terminal."""
        rate = self.embedded / self.seconds_dense if self.seconds_dense else 0.0
        lines = [
            f"{self.documents} documents ingested ({self.chunks} chunks), {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.superseded} superseded, {len(self.failed)} failed, "
            f"{len(self.held)} held for review",
            f"text + BM25: {self.seconds_text:.1f}s; "
            f"dense: {self.embedded} chunks in {self.seconds_dense:.1f}s ({rate:.1f} chunks/s)",
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        lines += [
            f"  held: {path}: {count} sentence(s) read as instructions to the assistant"
            for path, _, count in self.held
        ]
        lines += [f"  warning: no readable file under {what}" for what in self.empty]
        return "\n".join(lines)


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, symbolic links to files and folders followed (each folder once)."""
    files: list[Path] = []
    seen: set[str] = set()
    for top, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:  # a link back up the tree, or two links to one folder
            dirs[:] = []
            continue
        seen.add(real)
        files += [Path(top, name) for name in names]
    return sorted(files)


def discover(paths: Iterable[Path], empty: list[str] | None = None) -> list[tuple[Path, Path]]:
    """(file, root) for every readable file under ``paths`` (files or folders), sorted.

    Symbolic links are followed. A path that holds no readable file is logged and, when ``empty``
    is given, added to it with what it does hold.
    """
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            files = _walk(path)
            readable = [(p, path) for p in files if p.is_file() and _wanted(p)]
            if not readable:
                broken = sum(1 for p in files if not p.exists())
                why = f"{len(files)} files, none of them {', '.join(sorted(READABLE))}" + (
                    f" ({broken} broken links)" if broken else ""
                )
                logger.warning("no readable file under %s: %s", path, why)
                if empty is not None:
                    empty.append(f"{path}: {why}")
            found += readable
        elif path.exists():
            found.append((path, path.parent))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def _wanted(path: Path) -> bool:
    return path.suffix.lower() in READABLE and path.name not in _SKIP_NAMES


def file_hash(path: Path) -> str:
    """sha256 of the file's bytes and its sidecar's (what decides "unchanged")."""
    digest = hashlib.sha256(INDEX_SCHEME.encode())
    digest.update(path.read_bytes())
    sidecar = path.with_name(path.name + ".meta.json")
    if sidecar.is_file():
        digest.update(sidecar.read_bytes())
    return digest.hexdigest()


def source_of(path: Path, root: Path) -> str:
    """The document's source name: its path relative to the ingestion root."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def read_document(path: Path, root: Path, overrides: dict[str, Any] | None = None) -> PolicyDocument:
    """Read one file as a policy document (``ValueError`` saying why when it cannot be)."""
    text = load_text(path)
    return make_document(text, source_of(path, root), {**read_sidecar(path), **(overrides or {})})


def indexed_text(title: str, chunk: Chunk) -> str:
    """What is indexed for a chunk: its document title and heading path, then its text.

    An article rarely names its own subject (劳动合同法 第三十七条 says "劳动者提前三十日…"
    without "劳动合同"); the context lets keyword and dense search connect a question to it.
    The payload keeps the exact article text for the citation.
    """
    return " ".join([title, *chunk.heading_path, chunk.text])


def embedded_text(payload: dict[str, Any], max_chars: int) -> str:
    """What is embedded for a stored point: its law's title, then the first ``max_chars`` of the article.

    The title is never cut (a long heading path used to leave little of the article), and the start
    of an article carries its subject: on real residents' questions this scored best (see the README).
    """
    return f"{payload.get('title', '')} {str(payload.get('text', ''))[:max_chars]}"


def chunk_payload(
    doc: PolicyDocument, chunk: Chunk, excluded: bool = False, held: bool = False
) -> dict[str, Any]:
    """What a point stores: the citation, the exact text, and the fields filters use."""
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
        "excluded": int(excluded or held or meta["repealed"]),
        "held": int(held),
        "superseded_by": meta["extra"].get("superseded_by", ""),
    }


class Ingestor:
    """Writes documents into the index and the registry."""

    def __init__(
        self,
        index: VectorIndex,
        registry: DocumentRegistry,
        embedder: Embedder,
        encoder: BM25Encoder | None = None,
        *,
        embed_max_chars: int = 160,
        batch_points: int = 2000,
        hold_flagged: bool = True,
    ) -> None:
        self._index = index
        self._registry = registry
        self._embedder = embedder
        self._encoder = encoder or BM25Encoder()
        self._embed_max_chars = embed_max_chars
        self._batch_points = batch_points
        self._hold_flagged = hold_flagged

    def ingest_paths(
        self,
        paths: Sequence[Path],
        *,
        overrides: dict[str, Any] | None = None,
        embed: bool = True,
        delete_missing: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest every readable file under ``paths``; see the module docstring."""
        report = IngestReport()
        started = time.perf_counter()
        self._index.ensure(self._embedder.dim)
        known = self._registry.by_id()
        for row in known.values():  # a run that died mid-document: clear its points, redo it
            if row.status == "indexing":
                self._index.delete_document(row.doc_id)
        files = discover(paths, report.empty)
        seen: set[str] = set()
        pending: list[IndexPoint] = []
        pending_docs: list[_Pending] = []
        texts: dict[str, str] = {}
        for done, (path, root) in enumerate(files, start=1):
            doc_id = doc_id_for(source_of(path, root))
            seen.add(doc_id)
            read = self._read_reporting(path, root, known.get(doc_id), overrides, report)
            if read is None:
                continue
            doc, chunks, digest = read
            flags = [f.to_dict() for f in scan(doc.text)] if self._hold_flagged else []
            self._registry.mark(doc, "indexing", len(chunks), digest)
            if doc_id in known:
                self._index.delete_document(doc_id)
            pending += self._points(doc, chunks, held=bool(flags))
            pending_docs.append(_Pending(doc, len(chunks), digest, flags))
            if flags:
                report.held.append((str(path), doc.doc_id, len(flags)))
                logger.warning("held for review: %s: %d flagged sentence(s)", path, len(flags))
            else:
                texts[doc.doc_id] = doc.text
            report.documents += 1
            report.chunks += len(chunks)
            report.ingested.append(str(path))
            if len(pending) >= self._batch_points:
                self._commit(pending, pending_docs)
                pending, pending_docs = [], []
            if progress:
                progress("text", done, len(files))
        self._commit(pending, pending_docs)
        if delete_missing:
            report.removed = self._remove_missing(known, seen)
        report.superseded = self.apply_supersessions(texts)
        report.seconds_text = time.perf_counter() - started
        if embed:
            started = time.perf_counter()
            report.embedded = self.embed_missing(progress=progress)
            report.seconds_dense = time.perf_counter() - started
        return report

    def _read_reporting(
        self,
        path: Path,
        root: Path,
        row: RegisteredDocument | None,
        overrides: dict[str, Any] | None,
        report: IngestReport,
    ) -> tuple[PolicyDocument, list[Chunk], str] | None:
        """:meth:`_read_changed`, with a file that cannot be read, or is unchanged, counted in ``report``."""
        try:
            read = self._read_changed(path, root, row, overrides)
        except Exception as exc:  # any reader error (lxml, zipfile, pypdf, …) refuses this file only
            reason = str(exc) if isinstance(exc, OSError | ValueError) else _reader_error(exc)
            report.failed.append((str(path), reason))
            logger.warning("not ingested: %s: %s", path, reason)
            return None
        if read is None:
            report.unchanged += 1
        return read

    def _read_changed(
        self, path: Path, root: Path, row: RegisteredDocument | None, overrides: dict[str, Any] | None
    ) -> tuple[PolicyDocument, list[Chunk], str] | None:
        """The document and its chunks, or None when the file is unchanged since it was indexed."""
        digest = file_hash(path)
        if row and row.status != "indexing" and row.content_hash == digest and not overrides:
            return None
        doc = read_document(path, root, overrides)
        chunks = chunk_document(doc)
        if not chunks:
            raise ValueError("no text to index after the header (no articles or paragraphs found)")
        return doc, chunks, digest

    def _points(self, doc: PolicyDocument, chunks: list[Chunk], held: bool = False) -> list[IndexPoint]:
        return [
            IndexPoint(
                point_id(c.key),
                self._encoder.encode_document(indexed_text(doc.meta.title, c)),
                chunk_payload(doc, c, held=held),
            )
            for c in chunks
        ]

    def _commit(self, points: list[IndexPoint], docs: list[_Pending]) -> None:
        self._index.upsert(points)
        self._index.flush()
        for item in docs:
            if item.flags:
                self._registry.hold(item.doc, item.chunks, item.digest, item.flags)
            else:
                self._registry.mark(item.doc, "chunked", item.chunks, item.digest)

    def _remove_missing(self, known: dict[str, RegisteredDocument], seen: set[str]) -> int:
        """Forget registered documents this run did not find (use with the same roots as before)."""
        for doc_id in known.keys() - seen:
            self._index.delete_document(doc_id)
            self._registry.remove(doc_id)
        return len(known.keys() - seen)

    def apply_supersessions(self, new_texts: dict[str, str]) -> int:
        """Mark the documents the new texts (doc id -> text) replace as superseded; how many."""
        rows = self._registry.by_id()
        metas = {doc_id: row.meta for doc_id, row in rows.items() if row.status != "held"}
        changed = 0
        for item in find_supersessions(metas, new_texts):
            meta = metas[item.old]
            if meta.extra.get("superseded_by") == metas[item.new].title:
                continue
            updated = replace(meta, extra={**meta.extra, "superseded_by": metas[item.new].title})
            self._registry.update_meta(item.old, updated)
            self._index.set_document_payload(
                item.old, {"excluded": 1, "superseded_by": metas[item.new].title}
            )
            logger.info("superseded: %s (%s)", meta.title, item.reason)
            changed += 1
        self._index.flush()
        return changed

    @property
    def index(self) -> VectorIndex:
        """The index written to."""
        return self._index

    def embed_missing(
        self, *, batch: int = 64, limit: int | None = None, progress: Progress | None = None
    ) -> int:
        """Give chunks without a dense vector one (all of them, or ``limit``); returns how many."""
        total_missing = self._index.count(in_force=True) - self._index.count(dense_only=True, in_force=True)
        if limit is not None:
            total_missing = min(total_missing, limit)
        done = 0
        while limit is None or done < limit:
            todo = self._index.missing_dense(batch if limit is None else min(batch, limit - done))
            if not todo:
                break
            texts = [embedded_text(payload, self._embed_max_chars) for _, payload in todo]
            vectors = self._embedder.embed_documents(texts)
            self._index.set_dense({pid: vec.tolist() for (pid, _), vec in zip(todo, vectors, strict=True)})
            done += len(todo)
            if done % (batch * 16) == 0:
                self._index.flush()
            if progress:
                progress("dense", done, total_missing)
        self._index.flush()
        if not self._index.missing_dense(1):
            self._registry.set_status("chunked", "ready")
        return done
