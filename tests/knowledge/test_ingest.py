"""Ingestion: two phases, incremental by file hash, resumable, bad files reported, supersession."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from knowledge.config import EmbeddingSettings
from knowledge.embeddings import Embedder, build_embedder
from knowledge.index import EdgeIndex, SearchFilter
from knowledge.ingest import Ingestor
from knowledge.registry import DocumentRegistry
from knowledge.retriever import PolicyRetriever
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
    index: EdgeIndex
    registry: DocumentRegistry
    ingestor: Ingestor
    retriever: PolicyRetriever


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
    index = EdgeIndex(tmp_path / "index")
    registry = DocumentRegistry(engine)
    return KB(folder, index, registry, Ingestor(index, registry, embedder), PolicyRetriever(index, embedder))


def test_ingest_then_reingest_unchanged(kb: KB) -> None:
    first = kb.ingestor.ingest_paths([kb.folder])
    assert first.documents == 4 and not first.failed
    assert kb.index.count() == first.chunks
    assert first.embedded == kb.index.count(in_force=True) == first.chunks - 5  # the superseded document's 5
    assert all(r.status == "ready" for r in kb.registry.all())
    second = kb.ingestor.ingest_paths([kb.folder])
    assert (second.documents, second.unchanged, second.embedded) == (0, 4, 0)
    assert kb.index.count() == first.chunks


def test_text_phase_alone_makes_documents_keyword_searchable(kb: KB) -> None:
    report = kb.ingestor.ingest_paths([kb.folder], embed=False)
    assert report.embedded == 0 and kb.index.count(dense_only=True) == 0
    assert all(r.status == "chunked" for r in kb.registry.all())
    hits = kb.retriever.search_sync("租房提取公积金每月额度", mode="bm25", k=3)
    assert {h.title for h in hits} == {"示例市住房公积金提取管理办法"}
    assert "〔示例市住房公积金提取管理办法 第四条〕" in [h.citation for h in hits]
    assert kb.ingestor.embed_missing() == kb.index.count(in_force=True)  # the resumed dense phase
    assert all(r.status == "ready" for r in kb.registry.all())


def test_a_killed_dense_phase_continues_where_it_stopped(kb: KB, embedder: Embedder) -> None:
    report = kb.ingestor.ingest_paths([kb.folder], embed=False)
    todo = kb.index.missing_dense(10)
    kb.index.set_dense({pid: [0.1] * embedder.dim for pid, _ in todo})  # as if killed after one batch
    assert kb.ingestor.embed_missing() == kb.index.count(in_force=True) - 10
    assert kb.index.count(dense_only=True) == kb.index.count(in_force=True) < report.chunks


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
    texts = [h.text for h in kb.retriever.search_sync("租房提取公积金每月上限", k=3)]
    assert any("3500元" in t for t in texts) and not any("3000元" in t for t in texts)


def test_an_interrupted_document_is_redone(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder])
    row = next(r for r in kb.registry.all() if r.source.startswith("04-"))
    with kb.registry._engine.begin() as conn:  # as if killed between marking and flushing
        conn.exec_driver_sql("UPDATE kb_documents SET status='indexing' WHERE doc_id=?", (row.doc_id,))
    report = kb.ingestor.ingest_paths([kb.folder])
    assert report.documents == 1
    assert kb.registry.get(row.doc_id).status == "ready"  # type: ignore[union-attr]
    assert kb.index.count() == sum(r.chunks for r in kb.registry.all())


def test_bad_files_are_reported_and_the_rest_go_in(kb: KB) -> None:
    (kb.folder / "empty.md").write_text("", encoding="utf-8")
    (kb.folder / "binary.txt").write_bytes(b"\xff\xfe\x00\x81" * 50)
    (kb.folder / "only-title.md").write_text("# 只有标题\n", encoding="utf-8")
    (kb.folder / "fake.pdf").write_bytes(b"not a pdf at all")
    report = kb.ingestor.ingest_paths([kb.folder], embed=False)
    assert report.documents == 4
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"empty.md", "binary.txt", "only-title.md", "fake.pdf"}
    assert (
        "empty" in failed["empty.md"] and "no text" in failed["only-title.md"] and "PDF" in failed["fake.pdf"]
    )


def test_removed_documents_can_be_forgotten(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder], embed=False)
    (kb.folder / "07-生活垃圾分类管理条例.md").unlink()
    report = kb.ingestor.ingest_paths([kb.folder], embed=False, delete_missing=True)
    assert report.removed == 1
    assert not kb.retriever.search_sync("厨余垃圾 绿色容器", mode="bm25", k=3) or all(
        "垃圾分类" not in h.title for h in kb.retriever.search_sync("厨余垃圾 绿色容器", mode="bm25", k=3)
    )


def test_a_new_version_supersedes_the_old(kb: KB) -> None:
    report = kb.ingestor.ingest_paths([kb.folder])
    assert report.superseded == 1
    titles = {h.title for h in kb.retriever.search_sync("砍伐城市树木需要批准吗", k=6)}
    assert "示例市城市绿化管理办法（2025年修订）" in titles and "示例市城市绿化管理办法" not in titles
    old = {
        h.title
        for mode in ("hybrid", "bm25")
        for h in kb.retriever.search_sync(
            "砍伐城市树木", k=8, mode=mode, flt=SearchFilter(include_repealed=True)
        )
    }
    assert "示例市城市绿化管理办法" in old  # repealed text is found by its words (it has no dense vector)
    assert kb.index.count(dense_only=True) == kb.index.count(in_force=True)


def test_hits_cite_the_exact_article(kb: KB) -> None:
    kb.ingestor.ingest_paths([kb.folder])
    hit = kb.retriever.search_sync("厨余垃圾应该放进什么颜色的桶", k=1)[0]
    assert hit.citation == "〔示例市生活垃圾分类管理条例 第四条〕"
    source = (kb.folder / "07-生活垃圾分类管理条例.md").read_text(encoding="utf-8")
    assert source[hit.payload["start"] : hit.payload["end"]] == hit.text
    assert hit.payload["heading_path"] == ["第二章 分类投放"]
    assert set(hit.ranks) == {"dense", "bm25"}


def test_a_deployment_jurisdiction_leaves_other_regions_out(kb: KB, embedder: Embedder) -> None:
    national = kb.folder / "国家绿化规定.md"
    national.write_text("# 国家城市绿化规定\n\n第一条 城市绿化 公积金 垃圾分类。\n", encoding="utf-8")
    for path, region in ((kb.folder / DOCS[0], "浙江"), (kb.folder / DOCS[1], "山东"), (national, None)):
        report = kb.ingestor.ingest_paths([path], overrides={"region": region}, embed=False)
        assert report.documents == 1
    scoped = PolicyRetriever(kb.index, embedder, jurisdiction=["浙江"])
    question = "公积金 垃圾分类 绿化"
    everywhere = {h.title for h in kb.retriever.search_sync(question, mode="bm25", k=20)}
    assert everywhere == {"示例市住房公积金提取管理办法", "示例市生活垃圾分类管理条例", "国家城市绿化规定"}
    titles = {h.title for h in scoped.search_sync(question, mode="bm25", k=20)}
    assert titles == {"示例市住房公积金提取管理办法", "国家城市绿化规定"}  # 浙江's and the national one
    asked = scoped.search_sync(question, mode="bm25", k=20, flt=SearchFilter(region="山东"))
    assert {h.title for h in asked} == {"示例市生活垃圾分类管理条例"}  # a request naming a region searches it


def test_a_folder_of_symbolic_links_is_followed(kb: KB, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    (links / DOCS[0]).symlink_to(kb.folder / DOCS[0])  # a link to a file
    nested = tmp_path / "nested"
    nested.mkdir()
    shutil.move(str(kb.folder / DOCS[1]), nested / DOCS[1])
    (links / "more").symlink_to(nested, target_is_directory=True)  # a link to a folder
    (nested / "loop").symlink_to(links, target_is_directory=True)  # a cycle is walked once
    report = kb.ingestor.ingest_paths([links], embed=False)
    assert report.documents == 2 and not report.failed and not report.empty
    sources = {r.meta.source for r in kb.registry.all()}
    assert sources == {DOCS[0], f"more/{DOCS[1]}"}
    assert any("垃圾" in h.title for h in kb.retriever.search_sync("厨余垃圾", mode="bm25", k=3))


def test_a_path_without_a_readable_file_is_reported(kb: KB, tmp_path: Path) -> None:
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "rates.xlsx").write_bytes(b"PK")
    (odd / "gone.md").symlink_to(tmp_path / "nowhere.md")  # a broken link
    report = kb.ingestor.ingest_paths([odd, kb.folder], embed=False)
    assert report.documents == 4  # the readable folder still goes in
    assert len(report.empty) == 1 and str(odd) in report.empty[0] and "1 broken links" in report.empty[0]
    assert "warning: no readable file under" in report.summary()


def test_parts_of_one_law_with_one_date_are_not_versions(kb: KB, tmp_path: Path) -> None:
    parts = tmp_path / "code"
    parts.mkdir()
    articles = {"总则.md": "第一条 为了保护权益，制定本法。", "物权编.md": "第二百零五条 本编调整物权。"}
    for name, article in articles.items():
        (parts / name).write_text(
            f"# 示例法典\n\n2020年5月28日 通过\n\n<!-- INFO END -->\n\n{article}\n", encoding="utf-8"
        )
    report = kb.ingestor.ingest_paths([parts], embed=False)
    assert report.documents == 2 and report.superseded == 0
    assert kb.index.count(in_force=True) == kb.index.count() == 2
