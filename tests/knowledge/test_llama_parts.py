"""The knowledge layer as llama-index parts: reader, node parser, retriever, postprocessors, embeddings.

Each part is checked against what the product itself does: the parser's nodes are the points the
``Ingestor`` writes, the retriever's nodes are ``search_sync``'s hits, the postprocessors reorder for real.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from llama_index.core import Document
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.node_parser import NodeParser
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from knowledge.config import EmbeddingSettings
from knowledge.embeddings import Embedder, build_embedder
from knowledge.index import EdgeIndex
from knowledge.ingest import Ingestor
from knowledge.llama import (
    ArticleNodeParser,
    EmbedderAsLlama,
    LlamaEmbedder,
    LlamaPolicyRetriever,
    PolicyFileReader,
    PostprocessorReranker,
    RerankerPostprocessor,
    node_to_hit,
)
from knowledge.registry import DocumentRegistry
from knowledge.retriever import PolicyRetriever
from service.demo_city import DOCUMENTS_DIR
from tools.db import DatabaseSettings, make_engine, migrate

DOCS = ["04-住房公积金提取管理办法.md", "07-生活垃圾分类管理条例.md", "20-城市绿化管理办法.md"]
QUESTION = "提取住房公积金需要什么材料"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return build_embedder(EmbeddingSettings())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs")
    for name in DOCS:
        shutil.copy(DOCUMENTS_DIR / name, root / name)
    return root


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory, folder: Path, embedder: Embedder) -> PolicyRetriever:
    tmp = tmp_path_factory.mktemp("kb")
    engine = make_engine(DatabaseSettings(), tmp)
    migrate(engine)
    index = EdgeIndex(tmp / "index")
    Ingestor(index, DocumentRegistry(engine), embedder).ingest_paths([folder])
    return PolicyRetriever(index, embedder)


def test_reader_and_parser_make_the_points_the_ingestor_writes(
    folder: Path, retriever: PolicyRetriever
) -> None:
    assert isinstance(PolicyFileReader(), BaseReader) and isinstance(ArticleNodeParser(), NodeParser)
    docs = PolicyFileReader().load_data(folder)
    assert [d.metadata["source"] for d in docs] == DOCS
    nodes = ArticleNodeParser().get_nodes_from_documents(docs)
    index = retriever._index
    for doc in docs:
        stored = {p["chunk_key"]: p for p in index.document_payloads(doc.doc_id, 10_000)}
        mine = [n for n in nodes if n.ref_doc_id == doc.doc_id]
        assert len(mine) == len(stored) > 0
        for node in mine:
            assert isinstance(node, TextNode)
            payload = stored[node.metadata["chunk_key"]]
            assert node.text == payload["text"] == doc.text[node.start_char_idx : node.end_char_idx]
            assert (
                node.metadata["label"] == payload["label"]
                and node.metadata["heading_path"] == payload["heading_path"]
            )
            assert node.metadata["citation"] == f"〔{payload['title']} {payload['label']}〕"
    # what a model reads of a node is its citation and text; what is embedded, the law's title and text
    first = next(n for n in nodes if n.metadata["article"])
    assert first.get_content(MetadataMode.LLM).startswith(f"citation: {first.metadata['citation']}")
    assert "chunk_key" not in first.get_content(MetadataMode.EMBED)


def test_reader_is_a_file_extractor_and_the_parser_takes_any_reader_documents(folder: Path) -> None:
    (doc,) = PolicyFileReader().load_data(file=folder / DOCS[0], extra_info={"region": "浙江", "batch": "7"})
    assert doc.metadata["region"] == "浙江" and doc.metadata["batch"] == "7"
    foreign = Document(
        text="第一条 为了测试。\n\n第二条 押金应当退还。",
        metadata={"title": "测试办法", "file_name": "t.txt"},
    )
    nodes = ArticleNodeParser().get_nodes_from_documents([foreign])
    assert [n.metadata["citation"] for n in nodes] == ["〔测试办法 第一条〕", "〔测试办法 第二条〕"]
    assert all(n.metadata["file_name"] == "t.txt" and n.ref_doc_id == foreign.doc_id for n in nodes)


def test_the_retriever_returns_search_sync_hits_as_nodes(retriever: PolicyRetriever) -> None:
    llama = retriever.as_llama_retriever(k=5)
    assert isinstance(llama, BaseRetriever)
    hits = retriever.search_sync(QUESTION, k=5, mode="hybrid")
    nodes = llama.retrieve(QUESTION)
    assert [n.node.node_id for n in nodes] == [h.point_id for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    top = nodes[0]
    assert "公积金" in top.node.metadata["title"] and top.node.metadata["citation"] == hits[0].citation
    assert top.node.metadata["source"] == DOCS[0] and top.node.metadata["article"].startswith("第")
    assert top.node.get_content() == hits[0].text and node_to_hit(top) == hits[0]
    bm25 = LlamaPolicyRetriever(retriever, k=3, mode="bm25").retrieve(QUESTION)
    assert [n.node.node_id for n in bm25] == [
        h.point_id for h in retriever.search_sync(QUESTION, k=3, mode="bm25")
    ]


async def test_aretrieve_runs_search_with_the_retrievers_reranker(retriever: PolicyRetriever) -> None:
    hits = await retriever.search(QUESTION, k=3)
    nodes = await retriever.as_llama_retriever(k=3).aretrieve(QUESTION)
    assert [n.node.node_id for n in nodes] == [h.point_id for h in hits]


class _Mentions:
    """Scores a passage by how many of the given words it holds (a reranker with a checkable order)."""

    name = "mentions"

    def __init__(self, *words: str) -> None:
        self.words = words

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [float(sum(w in p for w in self.words)) for p in passages]


def test_our_reranker_as_a_node_postprocessor() -> None:
    nodes = [
        NodeWithScore(node=TextNode(id_=str(i), text=t), score=1.0)
        for i, t in enumerate(["甲", "押金 定金", "押金"])
    ]
    post = RerankerPostprocessor(reranker=_Mentions("押金", "定金"), top_n=2)
    assert isinstance(post, BaseNodePostprocessor)
    kept = post.postprocess_nodes(nodes, query_str="押金")
    assert [(n.node.node_id, n.score) for n in kept] == [("1", 2.0), ("2", 1.0)]


class _KeepWith(BaseNodePostprocessor):
    """A llama-index postprocessor of a city's own: the nodes that mention ``word``, in reverse order."""

    word: str

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return [n for n in reversed(nodes) if self.word in n.node.get_content()]


async def test_a_llama_postprocessor_as_the_retrievers_reranker(retriever: PolicyRetriever) -> None:
    scores = await PostprocessorReranker(_KeepWith(word="押金")).score("q", ["押金一", "工资", "押金二"])
    assert scores == [1.0, float("-inf"), 2.0]  # its order kept, a dropped passage last
    plain = retriever.search_sync(QUESTION, k=10)
    reranked = PolicyRetriever(
        retriever._index, retriever._embedder, reranker=PostprocessorReranker(_KeepWith(word=""))
    )
    hits = await reranked.search(QUESTION, k=3)
    assert [h.point_id for h in hits] == [h.point_id for h in reversed(plain)][:3]
    assert [h.ranks["rerank"] for h in hits] == [1, 2, 3]


def test_embeddings_both_ways(embedder: Embedder) -> None:
    as_llama = EmbedderAsLlama(embedder)
    vec = as_llama.get_query_embedding(QUESTION)
    assert np.allclose(vec, embedder.embed_query(QUESTION), atol=1e-6)
    back = LlamaEmbedder(as_llama)
    assert back.dim == embedder.dim
    docs = back.embed_documents(["押金", "工资"])
    assert docs.shape == (2, embedder.dim) and np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(back.embed_query(QUESTION), embedder.embed_query(QUESTION), atol=1e-5)
