"""Our vector index (Qdrant Edge in-process, or qdrant-client) as a llama-index vector store.

It writes the Chinese BM25 sparse vector beside the dense one. :class:`PolicyVectorStore` keeps the
index's own point layout (the payload :func:`knowledge.ingest.chunk_payload` writes), so nodes added
through llama-index (``VectorStoreIndex``, ``IngestionPipeline``) are found by ``PolicyRetriever`` with
their citations, and what the service ingested is found through llama-index.
Queries: ``DEFAULT`` (dense, ``query_embedding``), ``SPARSE``/``TEXT_SEARCH`` (BM25 on ``query_str``) and
``HYBRID`` (both, reciprocal-rank fused). Filters: ``region`` and ``category`` equal to a value; repealed,
superseded and held documents stay out, as in every search.

For a city that wants llama-index's own Qdrant integration on its own server collection,
:func:`qdrant_server_store` builds ``QdrantVectorStore`` from the same settings (its payload layout is
llama-index's, so ``PolicyRetriever`` does not read that collection).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

from knowledge.config import VectorStoreSettings
from knowledge.errors import VectorStoreUnavailableError
from knowledge.index import IndexPoint, Scored, SearchFilter, VectorIndex
from knowledge.llama.nodes import hit_to_node
from knowledge.retriever import Hit, rrf
from knowledge.sparse import BM25Encoder

_FILTER_KEYS = ("region", "category")
_SPARSE_MODES = (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH)


def search_filter(filters: MetadataFilters | None) -> SearchFilter:
    """llama-index metadata filters as our filter: ``region``/``category`` ``==`` a value, joined by AND."""
    if filters is None or not filters.filters:
        return SearchFilter()
    values: dict[str, str] = {}
    for item in filters.filters:
        if (
            not isinstance(item, MetadataFilter)
            or item.key not in _FILTER_KEYS
            or item.operator != FilterOperator.EQ
            or (len(filters.filters) > 1 and str(filters.condition).lower().endswith("or"))
        ):
            raise ValueError(f"unsupported filter {item!r}: only region/category == value, joined by AND")
        values[item.key] = str(item.value)
    return SearchFilter(region=values.get("region"), category=values.get("category"))


def _payload(node: BaseNode) -> dict[str, Any]:
    meta = {k: v for k, v in node.metadata.items() if k not in ("citation", "ranks", "scores")}
    meta["text"] = node.get_content(metadata_mode=MetadataMode.NONE)
    meta.setdefault("doc_id", node.ref_doc_id or node.node_id)
    meta.setdefault("title", "")
    meta.setdefault("label", "")
    meta.setdefault("excluded", 0)
    meta.setdefault("held", 0)
    return meta


class PolicyVectorStore(BasePydanticVectorStore):
    """A :class:`knowledge.index.VectorIndex` (opened: ``ensure(dim)`` done) as a llama-index vector store."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    stores_text: bool = True
    is_embedding_query: bool = True
    rrf_k: int = Field(default=60, description="k of the reciprocal-rank fusion in HYBRID mode.")
    _index: Any = PrivateAttr()
    _encoder: BM25Encoder = PrivateAttr()

    def __init__(self, index: VectorIndex, encoder: BM25Encoder | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._index = index
        self._encoder = encoder or BM25Encoder()

    @classmethod
    def class_name(cls) -> str:
        """llama-index's serialisation name."""
        return "CityagentPolicyVectorStore"

    @property
    def client(self) -> VectorIndex:
        """The index underneath."""
        index: VectorIndex = self._index
        return index

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Write nodes (same id: replaced): payload from metadata, BM25 from title + headings + text."""
        points = []
        for node in nodes:
            payload = _payload(node)
            context = " ".join([str(payload["title"]), *payload.get("heading_path", []), payload["text"]])
            dense = node.embedding
            points.append(IndexPoint(node.node_id, self._encoder.encode_document(context), payload, dense))
        self.client.upsert(points)
        self.client.flush()
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Remove every node of a document."""
        self.client.delete_document(ref_doc_id)
        self.client.flush()

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Dense, BM25 or hybrid search; see the module docstring."""
        if query.doc_ids or query.node_ids:
            raise ValueError("PolicyVectorStore does not restrict a query to given doc_ids/node_ids")
        flt = search_filter(query.filters)
        k = query.similarity_top_k
        rankings: dict[str, list[Scored]] = {}
        if query.mode in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.HYBRID):
            if query.query_embedding is None:
                raise ValueError("a dense query needs query_embedding")
            rankings["dense"] = self.client.search_dense(list(query.query_embedding), k, flt)
        if query.mode in (*_SPARSE_MODES, VectorStoreQueryMode.HYBRID):
            if not query.query_str:
                raise ValueError("a BM25 query needs query_str")
            limit = query.sparse_top_k or k
            sparse = self._encoder.encode_query(query.query_str)
            rankings["bm25"] = self.client.search_sparse(sparse, limit, flt)
        if not rankings:
            raise ValueError(f"unsupported query mode {query.mode}: default, sparse, text_search or hybrid")
        if len(rankings) > 1:
            hits = rrf(rankings, self.rrf_k)[: query.hybrid_top_k or k]
        else:
            ((name, results),) = rankings.items()
            hits = [Hit(r.point_id, r.score, r.payload, {name: i}) for i, r in enumerate(results, 1)]
        nodes = [hit_to_node(h) for h in hits]
        return VectorStoreQueryResult(
            nodes=[n.node for n in nodes],
            similarities=[h.score for h in hits],
            ids=[h.point_id for h in hits],
        )


def qdrant_server_store(settings: VectorStoreSettings, collection: str | None = None) -> Any:
    """llama-index's own ``QdrantVectorStore`` on the configured Qdrant server (``mode=server``)."""
    if not settings.url:
        raise VectorStoreUnavailableError("vector_store.mode=server needs vector_store.url")
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import AsyncQdrantClient, QdrantClient

    key = settings.api_key.get_secret_value() if settings.api_key else None
    return QdrantVectorStore(
        collection_name=collection or f"{settings.collection}_llama",
        client=QdrantClient(url=settings.url, api_key=key, timeout=int(settings.timeout_s)),
        aclient=AsyncQdrantClient(url=settings.url, api_key=key, timeout=int(settings.timeout_s)),
    )
