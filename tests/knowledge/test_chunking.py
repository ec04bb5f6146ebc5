"""Article-aware chunking: labels, heading paths, exact offsets, long articles, tables of contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.chunking import chunk_document
from knowledge.documents import make_document
from service.demo_city import DOCUMENTS_DIR

STRUCTURED = """# 示例条例

<!-- INFO END -->

目录
第一章 总则
第二章 管理
第一节 一般规定

## 第一章 总则

第一条 为了规范管理，制定本条例。

第二条 本条例所称城市，是指：
（一）市区；
（二）县城。
前款规定的范围由市人民政府公布。

## 第二章 管理

### 第一节 一般规定

第三条 市人民政府负责。

第三条之一 新增的条款。

## 附则

第四条 本条例自公布之日起施行。
"""


def test_articles_keep_their_clauses_and_heading_paths() -> None:
    doc = make_document(STRUCTURED, "demo/示例条例.md")
    chunks = chunk_document(doc)
    assert [c.label for c in chunks] == ["第一条", "第二条", "第三条", "第三条之一", "第四条"]
    second = chunks[1]
    assert "（二）县城。" in second.text and "前款规定" in second.text  # 款/项 stay inside the article
    assert second.heading_path == ("第一章 总则",)
    assert chunks[2].heading_path == ("第二章 管理", "第一节 一般规定")
    assert chunks[4].heading_path == ("附则",)  # a new 章-level heading drops the old 节


def test_the_table_of_contents_is_not_a_chunk() -> None:
    chunks = chunk_document(make_document(STRUCTURED, "x.md"))
    assert not any("目录" in c.text for c in chunks)


def test_offsets_point_at_the_exact_source_text() -> None:
    doc = make_document(STRUCTURED, "x.md")
    for chunk in chunk_document(doc):
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_long_articles_split_at_sentence_ends_with_overlap() -> None:
    sentence = "申请人应当提交身份证明、住所证明和其他材料。"
    text = "# 长条文\n\n第一条 " + sentence * 60 + "\n\n第二条 短条。\n"
    doc = make_document(text, "long.md")
    chunks = chunk_document(doc, max_chars=300, overlap=50)
    parts = [c for c in chunks if c.article == "第一条"]
    assert len(parts) >= 4
    assert [c.part for c in parts] == list(range(len(parts)))
    assert parts[1].label == "第一条（续1）"
    assert all(len(c.text) <= 300 for c in parts)
    assert all(c.text.endswith("。") for c in parts[:-1])
    assert parts[1].start < parts[0].end  # overlap
    assert chunks[-1].label == "第二条"
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_a_preamble_becomes_its_own_chunk() -> None:
    text = "# 宣言\n\n序言\n\n为了建设美好城市，特制定本规定。\n\n第一条 总的要求。\n"
    chunks = chunk_document(make_document(text, "p.md"))
    assert chunks[0].label == "序言"
    assert "美好城市" in chunks[0].text


def test_every_demo_document_chunks_into_articles() -> None:
    for path in sorted(DOCUMENTS_DIR.glob("*.md")):
        doc = make_document(path.read_text(encoding="utf-8"), path.name)
        chunks = chunk_document(doc)
        assert len(chunks) >= 5, path.name
        assert all(c.article.startswith("第") for c in chunks), path.name
        assert "发文机关" not in chunks[0].text, path.name  # the header is metadata, not a chunk


@pytest.mark.parametrize(
    ("relative", "articles"),
    [
        ("行政法规/不动产登记暂行条例(2019-03-24).md", 35),
        ("DLC/广东地方法规/地方性法规/广东/广东省市场监管条例(2021-09-29).md", 71),
    ],
)
def test_real_corpus_documents(shared_data: Path, relative: str, articles: int) -> None:
    path = shared_data / "policy-corpus" / relative
    doc = make_document(path.read_text(encoding="utf-8"), relative)
    chunks = chunk_document(doc)
    labels = [c.article for c in chunks]
    assert len(set(labels)) == articles
    assert labels[0] == "第一条"
    assert all(c.heading_path and c.heading_path[0].startswith("第") for c in chunks)
