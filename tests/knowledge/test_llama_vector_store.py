"""The vector index as a llama-index vector store, held to llama-index's interface on every index.

Edge (the embedded default) and qdrant-client in memory always; a Qdrant server when
CITYAGENT_TEST_QDRANT_URL names one. Nodes go in through llama-index's own ``IngestionPipeline`` and
come out through its ``VectorStoreIndex`` retriever and through ``PolicyRetriever``, with citations.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from qdrant_client import QdrantClient

from knowledge.config import EmbeddingSettings, VectorStoreSettings
from knowledge.embeddings import Embedder, build_embedder
from knowledge.errors import VectorStoreUnavailableError
from knowledge.index import EdgeIndex, QdrantClientIndex, VectorIndex
from knowledge.llama import (
    ArticleNodeParser,
    EmbedderAsLlama,
    PolicyFileReader,
    PolicyVectorStore,
    qdrant_server_store,
)
from knowledge.retriever import PolicyRetriever
from service.demo_city import DOCUMENTS_DIR

DOCS = ["04-住房公积金提取管理办法.md", "07-生活垃圾分类管理条例.md"]
QUESTION = "提取住房公积金需要什么材料"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return build_embedder(EmbeddingSettings())


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    root = tmp_path_factory.mktemp("docs")
    for name in DOCS:
        shutil.copy(DOCUMENTS_DIR / name, root / name)
    return PolicyFileReader().load_data(root)


@pytest.fixture(params=["edge", "memory", "server"])
def index(request: pytest.FixtureRequest, tmp_path: Path, embedder: Embedder) -> Iterator[VectorIndex]:
    if request.param == "edge":
        idx: VectorIndex = EdgeIndex(tmp_path / "edge")
    elif request.param == "memory":
        idx = QdrantClientIndex(QdrantClient(":memory:"), "test", "memory")
    else:
        url = os.environ.get("CITYAGENT_TEST_QDRANT_URL")
        if not url:
            pytest.skip("no Qdrant server: set CITYAGENT_TEST_QDRANT_URL to run the contract against one")
        idx = QdrantClientIndex(QdrantClient(url=url), f"t{uuid.uuid4().hex[:8]}", url)
    idx.ensure(embedder.dim)
    yield idx
    idx.close()


@pytest.fixture
def store(index: VectorIndex, embedder: Embedder, documents: list[Document]) -> PolicyVectorStore:
    store = PolicyVectorStore(index)
    pipeline = IngestionPipeline(
        transformations=[ArticleNodeParser(), EmbedderAsLlama(embedder)], vector_store=store
    )
    pipeline.run(documents=documents)
    return store


def _titles(nodes: Sequence[BaseNode]) -> set[str]:
    return {n.metadata["title"] for n in nodes}


def test_is_a_llama_index_vector_store(store: PolicyVectorStore, index: VectorIndex) -> None:
    assert isinstance(store, BasePydanticVectorStore) and store.stores_text and store.client is index
    assert index.count() == index.count(dense_only=True) > 0


def test_llama_index_retrieves_what_its_pipeline_wrote(store: PolicyVectorStore, embedder: Embedder) -> None:
    vindex = VectorStoreIndex.from_vector_store(store, embed_model=EmbedderAsLlama(embedder))
    nodes = vindex.as_retriever(similarity_top_k=3).retrieve(QUESTION)
    assert len(nodes) == 3 and "公积金" in nodes[0].node.metadata["title"]
    top = nodes[0].node
    assert isinstance(top, TextNode) and top.text and top.metadata["citation"].startswith("〔")
    assert top.metadata["source"] == DOCS[0] and nodes[0].score is not None


def test_policy_retriever_finds_the_pipelines_nodes_with_citations(
    store: PolicyVectorStore, index: VectorIndex, embedder: Embedder
) -> None:
    hits = PolicyRetriever(index, embedder).search_sync(QUESTION, k=3, mode="hybrid")
    assert hits and "公积金" in hits[0].title and hits[0].article.startswith("第")
    assert hits[0].citation == f"〔{hits[0].title} {hits[0].article}〕"


def test_bm25_and_hybrid_queries(store: PolicyVectorStore, embedder: Embedder) -> None:
    sparse = store.query(
        VectorStoreQuery(query_str="厨余垃圾", similarity_top_k=3, mode=VectorStoreQueryMode.SPARSE)
    )
    assert sparse.nodes and _titles(sparse.nodes) == {"示例市生活垃圾分类管理条例"}
    vector = embedder.embed_query(QUESTION).tolist()
    hybrid = store.query(
        VectorStoreQuery(
            query_embedding=vector, query_str=QUESTION, similarity_top_k=4, mode=VectorStoreQueryMode.HYBRID
        )
    )
    assert len(hybrid.nodes or []) == 4 and "公积金" in (hybrid.nodes or [])[0].metadata["title"]
    assert hybrid.ids == [n.node_id for n in hybrid.nodes or []]
    with pytest.raises(ValueError, match="query_str"):
        store.query(VectorStoreQuery(similarity_top_k=3, mode=VectorStoreQueryMode.SPARSE))


def test_filters_and_what_stays_out(store: PolicyVectorStore, embedder: Embedder) -> None:
    vector = embedder.embed_query(QUESTION).tolist()
    only = MetadataFilters(filters=[MetadataFilter(key="category", value="垃圾分类")])
    result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=5, filters=only))
    assert result.nodes and _titles(result.nodes) == {"示例市生活垃圾分类管理条例"}
    bad = MetadataFilters(filters=[MetadataFilter(key="title", value="x", operator=FilterOperator.NE)])
    with pytest.raises(ValueError, match="unsupported filter"):
        store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=5, filters=bad))
    repealed = TextNode(
        id_=str(uuid.uuid4()), text="提取住房公积金需要什么材料", metadata={"title": "旧办法", "excluded": 1}
    )
    repealed.embedding = vector
    store.add([repealed])
    found = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=10))
    assert "旧办法" not in _titles(found.nodes or [])  # repealed or superseded: never found by default


def test_delete_by_document(store: PolicyVectorStore, index: VectorIndex, documents: list[Document]) -> None:
    before = index.count()
    store.delete(documents[0].doc_id)
    assert 0 < index.count() < before
    left = store.query(
        VectorStoreQuery(query_str="住房公积金", similarity_top_k=10, mode=VectorStoreQueryMode.TEXT_SEARCH)
    )
    assert "公积金" not in " ".join(_titles(left.nodes or []))


def test_llama_index_qdrant_store_for_server_mode_needs_a_url() -> None:
    with pytest.raises(VectorStoreUnavailableError, match=r"vector_store\.url"):
        qdrant_server_store(VectorStoreSettings(mode="server"))
