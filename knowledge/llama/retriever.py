"""``PolicyRetriever`` as a llama-index ``BaseRetriever``, and rerankers as node postprocessors (both ways).

* :class:`LlamaPolicyRetriever` wraps a :class:`knowledge.retriever.PolicyRetriever` (the same object the
  service uses, so the same law-first ranking, filters, jurisdiction and supersession): ``retrieve()`` runs
  ``search_sync``, ``aretrieve()`` runs ``search`` (with the retriever's reranker, when it has one); each
  result is a ``NodeWithScore`` whose ``TextNode`` carries the title, article, heading path, source,
  offsets and the citation ``〔文件名 第X条〕``.
* :class:`RerankerPostprocessor` is one of our rerankers (cross-encoder, LLM, a vLLM/TEI endpoint) as a
  ``BaseNodePostprocessor``, for any llama-index query engine.
* :class:`PostprocessorReranker` is the other way round: any llama-index postprocessor that reorders
  nodes (``SentenceTransformerRerank``, ``LLMRerank``, a city's own) as the reranker of a ``PolicyRetriever``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.bridge.pydantic import ConfigDict, Field
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from knowledge.index import SearchFilter
from knowledge.llama.nodes import hit_to_node
from knowledge.rerank import Reranker
from knowledge.retriever import Mode, PolicyRetriever


class LlamaPolicyRetriever(BaseRetriever):
    """A :class:`PolicyRetriever` behind llama-index's retriever interface (``as_llama_retriever()``)."""

    def __init__(
        self,
        retriever: PolicyRetriever,
        *,
        k: int = 5,
        mode: Mode = "hybrid",
        flt: SearchFilter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy_retriever = retriever
        self.k = k
        self.mode: Mode = mode
        self.flt = flt

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        hits = self.policy_retriever.search_sync(query, k=self.k, mode=self.mode, flt=self.flt)
        return [hit_to_node(h) for h in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self.policy_retriever.search(
            query_bundle.query_str, k=self.k, mode=self.mode, flt=self.flt
        )
        return [hit_to_node(h) for h in hits]


class RerankerPostprocessor(BaseNodePostprocessor):
    """One of our rerankers as a node postprocessor: the best ``top_n`` nodes by its score, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    reranker: Any = Field(description="A knowledge.rerank.Reranker.")
    top_n: int | None = Field(default=None, description="Keep this many (all, when unset).")

    @classmethod
    def class_name(cls) -> str:
        """llama-index's serialisation name."""
        return "CityagentRerankerPostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        result: list[NodeWithScore] = asyncio_run(self._apostprocess_nodes(nodes, query_bundle))
        return result

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("reranking needs the query (query_bundle or query_str)")
        if not nodes:
            return []
        reranker: Reranker = self.reranker
        scores = await reranker.score(query_bundle.query_str, [n.node.get_content() for n in nodes])
        ranked = sorted(zip(nodes, scores, strict=True), key=lambda pair: -pair[1])
        out = [NodeWithScore(node=n.node, score=s) for n, s in ranked]
        return out[: self.top_n] if self.top_n is not None else out


class PostprocessorReranker:
    """A llama-index node postprocessor as our :class:`knowledge.rerank.Reranker` (one score per passage).

    Passages the postprocessor drops score ``-inf`` (after every kept one); a postprocessor that keeps the
    scores it was given scores by its order.
    """

    def __init__(self, postprocessor: BaseNodePostprocessor, name: str | None = None) -> None:
        self._postprocessor = postprocessor
        self.name = name or f"llama-index/{postprocessor.class_name()}"

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One score per passage, higher is better."""
        nodes = [NodeWithScore(node=TextNode(id_=str(i), text=p), score=0.0) for i, p in enumerate(passages)]
        kept = await self._postprocessor.apostprocess_nodes(nodes, query_str=query)
        scores = [float("-inf")] * len(passages)
        for order, item in enumerate(kept):
            # keep its order, whatever scale its scores are on
            scores[int(item.node.node_id)] = float(len(kept) - order)
        return scores
