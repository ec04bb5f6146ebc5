"""One contract, every vector index: Qdrant Edge (embedded default), qdrant-client in memory, a Qdrant server.

The server case runs when CITYAGENT_TEST_QDRANT_URL names one (none is installable on these
machines); otherwise it is skipped, saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from knowledge.errors import KnowledgeError, VectorStoreUnavailableError
from knowledge.index import EdgeIndex, IndexPoint, QdrantClientIndex, SearchFilter, VectorIndex, point_id
from knowledge.index.base import document_text
from knowledge.sparse import BM25Encoder

ENC = BM25Encoder()
DIM = 4


def make_point(key: str, text: str, dense: list[float] | None, **payload: object) -> IndexPoint:
    base = {
        "doc_id": key.split(":", maxsplit=1)[0], "text": text, "region": "示例市", "category": "住房",
        "excluded": 0, "effective_date": None, "expiry_date": None,
    }  # fmt: skip
    return IndexPoint(point_id(key), ENC.encode_document(text), {**base, **payload}, dense)


@pytest.fixture(params=["edge", "memory", "server"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    if request.param == "edge":
        idx: VectorIndex = EdgeIndex(tmp_path / "edge")
    elif request.param == "memory":
        idx = QdrantClientIndex(QdrantClient(":memory:"), "test", "memory")
    else:
        url = os.environ.get("CITYAGENT_TEST_QDRANT_URL")
        if not url:
            pytest.skip("no Qdrant server: set CITYAGENT_TEST_QDRANT_URL to run the contract against one")
        idx = QdrantClientIndex(QdrantClient(url=url), f"t{uuid.uuid4().hex[:8]}", url)
    idx.ensure(DIM)
    yield idx
    idx.close()


def seed(index: VectorIndex) -> None:
    index.upsert(
        [
            make_point("a:0", "租房提取住房公积金每月不超过1500元", [1, 0, 0, 0]),
            make_point("a:1", "购买自住住房可以提取住房公积金", [0.9, 0.1, 0, 0]),
            make_point("b:0", "生活垃圾分为四类", [0, 1, 0, 0], category="垃圾分类"),
            make_point("c:0", "旧办法：砍伐树木需经批准", [0, 0, 1, 0], excluded=1),
            make_point(
                "d:0",
                "限期有效的补贴规定",
                [0, 0, 0, 1],
                expiry_date="2024-12-31",
                effective_date="2024-01-01",
            ),
            make_point("e:0", "尚未嵌入的条文：住房公积金贷款", None),
        ]
    )
    index.flush()


def test_sparse_search_ranks_by_bm25(index: VectorIndex) -> None:
    seed(index)
    hits = index.search_sparse(ENC.encode_query("租房 公积金"), 3, SearchFilter())
    assert hits[0].point_id == point_id("a:0")
    assert hits[0].payload["text"].startswith("租房")
    assert point_id("e:0") in {
        h.point_id for h in index.search_sparse(ENC.encode_query("公积金贷款"), 5, SearchFilter())
    }


def test_payloads_by_point_id_leave_out_unknown_ids(index: VectorIndex) -> None:
    seed(index)
    found = index.payloads([point_id("b:0"), point_id("nowhere:0"), point_id("c:0")])
    assert set(found) == {point_id("b:0"), point_id("c:0")}
    assert found[point_id("b:0")]["text"] == "生活垃圾分为四类" and found[point_id("c:0")]["excluded"] == 1
    assert index.payloads([]) == {}


def test_dense_search_and_points_without_vectors(index: VectorIndex) -> None:
    seed(index)
    hits = index.search_dense([1, 0, 0, 0], 3, SearchFilter())
    assert [h.point_id for h in hits[:2]] == [point_id("a:0"), point_id("a:1")]
    assert index.count() == 6
    assert index.count(dense_only=True) == 5
    missing = index.missing_dense(10)
    assert [(pid, payload["text"]) for pid, payload in missing] == [
        (point_id("e:0"), "尚未嵌入的条文：住房公积金贷款")
    ]
    index.set_dense({point_id("e:0"): [0, 0, 0.5, 0.5]})
    assert index.missing_dense(10) == []


def test_filters(index: VectorIndex) -> None:
    seed(index)
    everything = SearchFilter(include_repealed=True)
    assert point_id("c:0") in {h.point_id for h in index.search_dense([0, 0, 1, 0], 6, everything)}
    assert point_id("c:0") not in {h.point_id for h in index.search_dense([0, 0, 1, 0], 6, SearchFilter())}
    only = {h.point_id for h in index.search_dense([0, 1, 0, 0], 6, SearchFilter(category="垃圾分类"))}
    assert only == {point_id("b:0")}
    in_2025 = {
        h.point_id for h in index.search_dense([0, 0, 0, 1], 6, SearchFilter(valid_on=date(2025, 6, 1)))
    }
    in_2024 = {
        h.point_id for h in index.search_dense([0, 0, 0, 1], 6, SearchFilter(valid_on=date(2024, 6, 1)))
    }
    assert point_id("d:0") not in in_2025 and point_id("d:0") in in_2024
    assert point_id("a:0") in in_2025  # no dates: always valid


def test_a_jurisdiction_keeps_national_documents_and_its_own_regions(index: VectorIndex) -> None:
    index.upsert(
        [
            make_point("n:0", "国家规定：住房公积金", [1, 0, 0, 0], region=""),
            make_point("z:0", "浙江省规定：住房公积金", [1, 0, 0, 0], region="浙江"),
            make_point("s:0", "山东省规定：住房公积金", [1, 0, 0, 0], region="山东"),
        ]
    )
    index.flush()
    scoped = SearchFilter(jurisdiction=("浙江",))
    for hits in (
        index.search_dense([1, 0, 0, 0], 5, scoped),
        index.search_sparse(ENC.encode_query("住房公积金"), 5, scoped),
    ):
        assert {h.point_id for h in hits} == {point_id("n:0"), point_id("z:0")}
    everywhere = {h.point_id for h in index.search_dense([1, 0, 0, 0], 5, SearchFilter())}
    assert point_id("s:0") in everywhere


def test_document_level_delete_and_payload(index: VectorIndex) -> None:
    seed(index)
    index.set_document_payload("a", {"excluded": 1, "superseded_by": "新办法"})
    assert not {h.point_id for h in index.search_dense([1, 0, 0, 0], 6, SearchFilter())} & {point_id("a:0")}
    index.delete_document("b")
    index.flush()
    assert index.count() == 5


def test_a_document_text_is_rebuilt_from_its_chunks_offsets(index: VectorIndex) -> None:
    source = "第一条 总则。\n第二条 长条文的前半部分，接着是后半部分。\n第三条 附则。"
    pieces = [(0, 7), (8, 22), (18, 29), (30, 37)]  # the long article split with a 4-character overlap
    index.upsert(
        [make_point(f"doc:{i}", source[a:b], None, start=a, end=b) for i, (a, b) in enumerate(pieces)]
        + [make_point("other:0", "别的文件", None, start=0, end=4)]
    )
    assert document_text(index, "doc") == source
    assert document_text(index, "nothing") is None


def test_rewriting_a_point_does_not_duplicate_it(index: VectorIndex) -> None:
    seed(index)
    seed(index)
    assert index.count() == 6


def test_another_width_is_refused(index: VectorIndex, tmp_path: Path) -> None:
    if isinstance(index, EdgeIndex):
        index.close()
        other = EdgeIndex(tmp_path / "edge")
        with pytest.raises(KnowledgeError):
            other.ensure(DIM + 1)
        return
    fresh = QdrantClientIndex(index._client, index.collection, "same")  # type: ignore[attr-defined]
    with pytest.raises(KnowledgeError, match="dim"):
        fresh.ensure(DIM + 1)


def test_edge_index_open_elsewhere_is_a_clear_error(tmp_path: Path) -> None:
    first = EdgeIndex(tmp_path / "edge")
    first.ensure(DIM)
    code = (
        "from pathlib import Path; from knowledge.index import EdgeIndex\n"
        f"EdgeIndex(Path({str(tmp_path / 'edge')!r})).ensure({DIM})"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    first.close()
    assert result.returncode != 0
    assert "open in another process" in result.stderr
    assert VectorStoreUnavailableError.__name__ in result.stderr
