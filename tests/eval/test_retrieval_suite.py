"""The laws retrieval suite is what it claims, and the metrics score known cases right."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from eval.retrieval import RetrievalItem, SuiteError, load_retrieval_suite, matches, score_retrieval
from knowledge.chunking import chunk_document
from knowledge.documents import make_document
from tests.conftest import PROJECT

SUITE = PROJECT / "eval" / "suites" / "laws_retrieval.v1.jsonl"


@cache
def articles_of(path: Path) -> dict[str, str]:
    doc = make_document(path.read_text(encoding="utf-8"), path.name)
    texts: dict[str, str] = {}
    for chunk in chunk_document(doc):
        texts[chunk.article] = texts.get(chunk.article, "") + chunk.text
    return texts


def latest_version(corpus: Path, title: str) -> Path:
    def title_of(path: Path) -> str:
        return path.read_text(encoding="utf-8").split("\n", 1)[0].lstrip("# ").strip()

    found = sorted(p for p in corpus.rglob("*.md") if "DLC" not in p.parts and title_of(p) == title)
    assert found, f"{title} is not in the corpus"
    return found[-1]


def test_suite_size_and_ids() -> None:
    items = load_retrieval_suite(SUITE)
    assert len(items) >= 150
    assert len({i.item_id for i in items}) == len(items)
    assert len({i.gold[0][0] for i in items}) >= 30


def test_every_gold_article_exists_and_holds_its_evidence(shared_data: Path) -> None:
    corpus = shared_data / "policy-corpus"
    items = load_retrieval_suite(SUITE)
    paths = {title: latest_version(corpus, title) for title in {i.gold[0][0] for i in items}}
    for item in items:
        title, article = item.gold[0]
        text = articles_of(paths[title]).get(article)
        assert text is not None, f"{item.item_id}: {title} has no {article}"
        assert item.evidence in text, f"{item.item_id}: {item.evidence!r} not in {title} {article}"
        # a resident's paraphrase, not a quotation: no 12-character run of the article
        assert not any(text[i : i + 12] in item.question for i in range(len(text) - 12)), item.item_id


def test_bad_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        '{"id": "a", "question": "q", "gold": [{"title": "t", "article": "第一条"}]}\n{"id": "b"}\n'
    )
    with pytest.raises(SuiteError, match=r"s\.jsonl:2"):
        load_retrieval_suite(path)


def test_matching_ignores_version_suffixes() -> None:
    gold = [("示例市城市绿化管理办法", "第三条")]
    assert matches({"title": "示例市城市绿化管理办法（2025年修订）", "article": "第三条"}, gold)
    assert not matches({"title": "示例市城市绿化管理办法", "article": "第四条"}, gold)


def test_recall_and_mrr_on_known_rankings() -> None:
    items = [
        RetrievalItem("1", "q1", (("A", "第一条"),)),
        RetrievalItem("2", "q2", (("B", "第二条"),)),
        RetrievalItem("3", "q3", (("C", "第三条"),)),
    ]
    rankings = {
        "q1": [{"title": "A", "article": "第一条"}],  # rank 1
        "q2": [{"title": "X", "article": "第一条"}] * 5 + [{"title": "B", "article": "第二条"}],  # rank 6
        "q3": [{"title": "X", "article": "第一条"}, {"title": "C", "article": "第三条"}],  # rank 2
    }
    scores = score_retrieval(items, lambda q: rankings[q], k=5)
    assert scores.recall_at_k == pytest.approx(2 / 3)
    assert scores.mrr_at_10 == pytest.approx((1 + 1 / 6 + 1 / 2) / 3)
    assert scores.misses == ("2",)
