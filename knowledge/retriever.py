"""``PolicyRetriever``: the one way agents and the CLI find policy passages.

Hybrid by default: the dense ranking (embeddings) and the BM25 ranking are combined law
first (``knowledge.lawfirst``: laws scored from their articles on both paths, their titles and a
prior, then articles within them), or fused by reciprocal rank, ``Σ 1/(k + rank)``, when the
ranker is ``rrf``; an optional reranker then reorders the top candidates. Every hit carries its
citation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from knowledge.embeddings import Embedder
from knowledge.errors import RerankerUnavailableError
from knowledge.index import Scored, SearchFilter, VectorIndex
from knowledge.lawfirst import LawTable, RankerWeights, law_first
from knowledge.rerank import Reranker
from knowledge.sparse import BM25Encoder
from tools.telemetry import traced_retrieval

if TYPE_CHECKING:
    from knowledge.llama import LlamaPolicyRetriever

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
_LAWS_RECHECK_S = 30.0  # how often the table of laws checks whether the index changed


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its citation and how each path ranked it (1-based; absent: not found)."""

    point_id: str
    score: float
    payload: dict[str, Any]
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The document's title."""
        return str(self.payload.get("title", ""))

    @property
    def article(self) -> str:
        """The article label, e.g. ``第十二条``."""
        return str(self.payload.get("label", ""))

    @property
    def text(self) -> str:
        """The exact text of the passage."""
        return str(self.payload.get("text", ""))

    @property
    def citation(self) -> str:
        """``〔文件名 第X条〕``."""
        return f"〔{self.title} {self.article}〕"


@dataclass(frozen=True)
class Timing:
    """Where a search spent its time, in milliseconds."""

    embed_ms: float = 0.0
    dense_ms: float = 0.0
    bm25_ms: float = 0.0
    rerank_ms: float = 0.0


def rrf(
    rankings: Mapping[str, Sequence[Scored]], k: int, weights: Mapping[str, float] | None = None
) -> list[Hit]:
    """Weighted reciprocal-rank fusion (``w / (k + rank)``), best first.

    Each hit keeps its rank and raw score on every path. Without ``weights`` every path counts the same.
    """
    fused: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    raw: dict[str, dict[str, float]] = {}
    payloads: dict[str, dict[str, Any]] = {}
    for name, results in rankings.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, item in enumerate(results, start=1):
            fused[item.point_id] = fused.get(item.point_id, 0.0) + weight / (k + rank)
            ranks.setdefault(item.point_id, {})[name] = rank
            raw.setdefault(item.point_id, {})[name] = item.score
            payloads.setdefault(item.point_id, item.payload)
    ordered = sorted(fused, key=lambda pid: (-fused[pid], min(ranks[pid].values())))
    return [Hit(pid, fused[pid], payloads[pid], ranks[pid], raw[pid]) for pid in ordered]


class PolicyRetriever:
    """Dense, BM25 or hybrid search over the index, with filters and an optional reranker."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        encoder: BM25Encoder | None = None,
        reranker: Reranker | None = None,
        *,
        candidates: int = 50,
        rrf_k: int = 60,
        rerank_top: int = 10,
        weights: Mapping[str, float] | None = None,
        jurisdiction: Sequence[str] = (),
        law_first: RankerWeights | None = None,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self._encoder = encoder or BM25Encoder()
        self._reranker = reranker
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._rerank_top = rerank_top
        self.weights = dict(weights or {})
        self.jurisdiction = tuple(jurisdiction)
        self.law_first = law_first
        self._laws: tuple[int, LawTable] | None = None
        self._laws_checked = 0.0
        self.last_timing = Timing()

    def search_sync(
        self, query: str, *, k: int = 5, mode: Mode = "hybrid", flt: SearchFilter | None = None
    ) -> list[Hit]:
        """The same as :meth:`search` without a reranker, for code that is not async (benchmarks, CLI)."""
        hits, self.last_timing = self._retrieve(query, k, mode, flt or SearchFilter())
        return hits

    @traced_retrieval("policies")
    async def search(
        self, query: str, *, k: int = 5, mode: Mode = "hybrid", flt: SearchFilter | None = None
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` (search runs in a worker thread; rerank awaits the model)."""
        flt = flt or SearchFilter()
        wanted = max(k, self._rerank_top) if self._reranker else k
        hits, timing = await asyncio.to_thread(self._retrieve, query, wanted, mode, flt)
        if self._reranker and hits:
            started = time.perf_counter()
            top = hits[: self._rerank_top]
            try:
                scores = await self._reranker.score(query, [h.text for h in top])
            except RerankerUnavailableError as exc:  # the fused order is still a good answer
                logger.warning("reranker %s failed, hybrid order kept: %s", self._reranker.name, exc)
                self.last_timing = timing
                return hits[:k]
            reranked = sorted(zip(top, scores, strict=True), key=lambda pair: -pair[1])
            hits = [
                Hit(h.point_id, s, h.payload, {**h.ranks, "rerank": i}, {**h.scores, "rerank": s})
                for i, (h, s) in enumerate(reranked, 1)
            ]
            timing = Timing(
                timing.embed_ms, timing.dense_ms, timing.bm25_ms, (time.perf_counter() - started) * 1000
            )
        self.last_timing = timing
        return hits[:k]

    def as_llama_retriever(
        self, *, k: int = 5, mode: Mode = "hybrid", flt: SearchFilter | None = None
    ) -> LlamaPolicyRetriever:
        """Itself as a llama-index ``BaseRetriever`` returning ``NodeWithScore`` with citations.

        Imports llama-index (about a second) on first call; nothing else here needs it.
        """
        from knowledge.llama import LlamaPolicyRetriever

        return LlamaPolicyRetriever(self, k=k, mode=mode, flt=flt)

    def rankings(self, query: str, flt: SearchFilter | None = None) -> dict[str, list[Scored]]:
        """Both paths' candidate lists before fusion (to tune the fusion offline)."""
        rankings, _ = self._rankings(query, self._candidates, "hybrid", flt or SearchFilter())
        return rankings

    def _retrieve(self, query: str, k: int, mode: Mode, flt: SearchFilter) -> tuple[list[Hit], Timing]:
        limit = k if mode != "hybrid" else max(k, self._candidates)
        rankings, timing = self._rankings(query, limit, mode, flt)
        if mode == "hybrid" and self.law_first is not None:
            hits = self.rank_law_first(query, rankings, k, self.law_first)
        elif mode == "hybrid":
            hits = rrf(rankings, self._rrf_k, self.weights)[:k]
        else:
            ((name, results),) = rankings.items()
            hits = [
                Hit(r.point_id, r.score, r.payload, {name: i}, {name: r.score})
                for i, r in enumerate(results[:k], start=1)
            ]
        return hits, timing

    def law_table(self) -> LawTable:
        """Every law in the index and its size; read again when the index changed size (checked each 30 s)."""
        now = time.monotonic()
        if self._laws is None or now - self._laws_checked > _LAWS_RECHECK_S:
            self._laws_checked = now
            size = self._index.count(in_force=True)
            if self._laws is None or self._laws[0] != size:
                self._laws = (size, LawTable.from_title_counts(self._index.title_counts()))
        return self._laws[1]

    def rank_law_first(
        self, query: str, rankings: Mapping[str, Sequence[Scored]], k: int, weights: RankerWeights
    ) -> list[Hit]:
        """The ``k`` best of both paths' candidates, law first (``knowledge.lawfirst``)."""
        ranked = law_first(rankings, self.law_table(), query, weights, k)
        return [
            Hit(
                r.candidate.point_id, r.score, r.candidate.payload,
                {**r.candidate.ranks, "law": r.law_rank}, dict(r.candidate.scores),
            )
            for r in ranked
        ]  # fmt: skip

    def _rankings(
        self, query: str, limit: int, mode: Mode, flt: SearchFilter
    ) -> tuple[dict[str, list[Scored]], Timing]:
        rankings: dict[str, list[Scored]] = {}
        embed_ms = dense_ms = bm25_ms = 0.0
        if self.jurisdiction and not flt.jurisdiction and not flt.region:
            flt = replace(flt, jurisdiction=self.jurisdiction)
        if mode in ("hybrid", "dense"):
            started = time.perf_counter()
            vector = self._embedder.embed_query(query).tolist()
            embed_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            rankings["dense"] = self._index.search_dense(vector, limit, flt)
            dense_ms = (time.perf_counter() - started) * 1000
        if mode in ("hybrid", "bm25"):
            started = time.perf_counter()
            rankings["bm25"] = self._index.search_sparse(self._encoder.encode_query(query), limit, flt)
            bm25_ms = (time.perf_counter() - started) * 1000
        return rankings, Timing(embed_ms, dense_ms, bm25_ms)
