"""Ingestion: incremental by content hash, bad files reported, citations exact."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from knowledge.config import EmbeddingSettings
from knowledge.dense import DenseIndex
from knowledge.embeddings import Embedder, build_embedder
from knowledge.ingest import Ingestor, read_document
from knowledge.registry import DocumentRegistry
from service.demo_city import DOCUMENTS_DIR
from tools.db import DatabaseSettings, make_engine, migrate

DOCS = [
    "04-住房公积金提取管理办法.md",
    "07-生活垃圾分类管理条例.md",
    "20-城市绿化管理办法.md",
    "21-城市绿化管理办法-2025修订.md",
]


@dataclass
class KB:
    folder: Path
    index: DenseIndex
    registry: DocumentRegistry
    ingestor: Ingestor


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return build_embedder(EmbeddingSettings())


@pytest.fixture
def kb(tmp_path: Path, embedder: Embedder) -> KB:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in DOCS:
        shutil.copy(DOCUMENTS_DIR / name, folder / name)
    engine = make_engine(DatabaseSettings(), tmp_path)
    migrate(engine)
    index = DenseIndex(QdrantClient(":memory:"), "policies", embedder)
    registry = DocumentRegistry(engine)
    return KB(folder, index, registry, Ingestor(index, registry))


def test_ingest_then_reingest_unchanged(kb: KB) -> None:
    first = kb.ingestor.ingest_paths([kb.folder])
    assert first.documents == 4 and not first.failed
    assert kb.index.count() == first.chunks
    assert all(r.status == "ready" for r in kb.registry.all())
    second = kb.ingestor.ingest_paths([kb.folder])
    assert (second.documents, second.unchanged) == (0, 4)
    assert kb.index.count() == first.chunks


def test_a_changed_document_replaces_its_chunks(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder])
    before = kb.index.count()
    path = kb.folder / "04-住房公积金提取管理办法.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("每月不超过3000元", "每月不超过3500元"), encoding="utf-8"
    )
    report = kb.ingestor.ingest_paths([kb.folder])
    assert (report.documents, report.unchanged) == (1, 3)
    assert kb.index.count() == before
    hits = kb.index.search("租房提取公积金每月上限", limit=3)
    assert any("3500元" in h.payload["text"] for h in hits)
    assert not any("3000元" in h.payload["text"] for h in hits)


def test_bad_files_are_reported_and_the_rest_go_in(kb: KB) -> None:
    (kb.folder / "empty.md").write_text("", encoding="utf-8")
    (kb.folder / "binary.txt").write_bytes(b"\xff\xfe\x00\x81" * 50)
    (kb.folder / "only-title.md").write_text("# 只有标题\n", encoding="utf-8")
    report = kb.ingestor.ingest_paths([kb.folder])
    assert report.documents == 4
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"empty.md", "binary.txt", "only-title.md"}
    assert "empty" in failed["empty.md"]
    assert "no text" in failed["only-title.md"]


def test_hits_cite_the_exact_article(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder])
    hit = kb.index.search("厨余垃圾应该放进什么颜色的桶", limit=1)[0]
    assert hit.citation == "〔示例市生活垃圾分类管理条例 第四条〕"
    source = (kb.folder / "07-生活垃圾分类管理条例.md").read_text(encoding="utf-8")
    assert source[hit.payload["start"] : hit.payload["end"]] == hit.payload["text"]
    assert hit.payload["heading_path"] == ["第二章 分类投放"]


def test_repealed_documents_are_left_out_by_default(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder])
    titles = {h.payload["title"] for h in kb.index.search("砍伐城市树木需要批准吗", limit=6)}
    assert "示例市城市绿化管理办法" not in titles
    assert "示例市城市绿化管理办法（2025年修订）" in titles
    with_repealed = {
        h.payload["title"] for h in kb.index.search("砍伐城市树木需要批准吗", limit=6, include_repealed=True)
    }
    assert "示例市城市绿化管理办法" in with_repealed


def test_interrupted_document_is_redone(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder])
    doc = read_document(kb.folder / DOCS[0], kb.folder)
    kb.registry.mark(doc, "indexing")  # as if killed between marking and finishing
    report = kb.ingestor.ingest_paths([kb.folder])
    assert report.documents == 1
    stored = kb.registry.get(doc.doc_id)
    assert stored is not None and stored.status == "ready"
