"""``cityagent bench knowledge``: ingestion, index size, latency and quality on the laws corpus.

Everything is measured on the installation the settings name (its data dir), so the
figures describe the embedded default unless the settings say otherwise. Dense figures
are only as complete as the dense phase: the report says how many chunks have vectors.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.bench.knowledge_baselines import baseline_searches
from eval.bench.knowledge_ranker import scores_dict, train_law_first
from eval.bench.stats import summary_ms
from eval.retrieval import RetrievalItem, load_retrieval_suite, matches, score_retrieval
from knowledge.index import Scored
from knowledge.ingest import Ingestor
from knowledge.retriever import Mode, PolicyRetriever, rrf


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _latency(retriever: PolicyRetriever, queries: list[str], mode: Mode) -> dict[str, float]:
    for q in queries[:10]:  # warm
        retriever.search_sync(q, k=10, mode=mode)
    times = []
    for q in queries:
        started = time.perf_counter()
        retriever.search_sync(q, k=10, mode=mode)
        times.append(time.perf_counter() - started)
    return summary_ms(times)


def _searcher(retriever: PolicyRetriever, mode: Mode) -> Callable[[str], list[dict[str, Any]]]:
    def search(question: str) -> list[dict[str, Any]]:
        return [hit.payload for hit in retriever.search_sync(question, k=10, mode=mode)]

    return search


def candidate_recall(
    retriever: PolicyRetriever, items: list[RetrievalItem], depth: int = 100
) -> dict[str, Any]:
    """How often each path brings a gold article among its first ``depth``: what any reranker could reach."""
    found: dict[str, int] = {"dense": 0, "bm25": 0, "either": 0}
    for item in items:
        hit = {
            mode: any(
                matches(h.payload, item.gold)
                for h in retriever.search_sync(item.question, k=depth, mode=mode)
            )
            for mode in ("dense", "bm25")
        }
        found["dense"] += hit["dense"]
        found["bm25"] += hit["bm25"]
        found["either"] += hit["dense"] or hit["bm25"]
    return {"depth": depth, **{mode: round(n / max(1, len(items)), 3) for mode, n in found.items()}}


DENSE_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
RRF_KS = (5, 20, 60)


def _fused_scores(
    candidates: list[dict[str, list[Scored]]], items: list[RetrievalItem], setting: tuple[float, int]
) -> tuple[float, float]:
    """Recall@5 and MRR@10 of the fusion (dense weight, rrf_k); the BM25 weight stays 1."""
    weight, rrf_k = setting
    hits_at_5, reciprocal = 0, 0.0
    for ranking, item in zip(candidates, items, strict=True):
        fused = rrf(ranking, rrf_k, {"dense": weight, "bm25": 1.0})[:10]
        rank = next((i for i, h in enumerate(fused, 1) if matches(h.payload, item.gold)), None)
        hits_at_5 += rank is not None and rank <= 5
        reciprocal += 1.0 / rank if rank else 0.0
    n = max(1, len(items))
    return hits_at_5 / n, reciprocal / n


def tune_fusion(retriever: PolicyRetriever, items: list[RetrievalItem]) -> dict[str, Any]:
    """Grid-search the fusion on the suite; the honest figure is the two-fold cross-validated recall.

    The candidates of both paths are fetched once per question; each setting only re-fuses them.
    Folds are the items at even and odd positions: the setting chosen on one is scored on the other.
    """
    candidates = [retriever.rankings(item.question) for item in items]
    grid = [(w, k) for w in DENSE_WEIGHTS for k in RRF_KS]

    def subset(idx: list[int]) -> tuple[list[dict[str, list[Scored]]], list[RetrievalItem]]:
        return [candidates[i] for i in idx], [items[i] for i in idx]

    def best(idx: list[int]) -> tuple[float, int]:
        return max(grid, key=lambda setting: _fused_scores(*subset(idx), setting))

    folds = [list(range(0, len(items), 2)), list(range(1, len(items), 2))]
    held_out: list[dict[str, Any]] = []
    hits = 0.0
    for train, test in (folds, folds[::-1]):
        chosen = best(train)
        recall, _ = _fused_scores(*subset(test), chosen)
        hits += recall * len(test)
        held_out.append(
            {
                "dense_weight": chosen[0],
                "rrf_k": chosen[1],
                "recall_at_5": round(recall, 3),
                "items": len(test),
            }
        )
    overall = best(list(range(len(items))))
    recall, mrr = _fused_scores(candidates, items, overall)
    plain_recall, plain_mrr = _fused_scores(candidates, items, (1.0, 60))
    return {
        "grid": {"dense_weight": DENSE_WEIGHTS, "rrf_k": RRF_KS},
        "cross_validated_recall_at_5": round(hits / max(1, len(items)), 3),
        "folds": held_out,
        "best_on_whole_suite": {
            "dense_weight": overall[0], "rrf_k": overall[1], "recall_at_5": round(recall, 3),
            "mrr_at_10": round(mrr, 3),
        },
        "equal_weights_k60": {"recall_at_5": round(plain_recall, 3), "mrr_at_10": round(plain_mrr, 3)},
    }  # fmt: skip


def _gold_embedded(index: Any, item: RetrievalItem) -> bool | None:
    """Whether a gold article of ``item`` has a dense vector yet (None: not the embedded index)."""
    shard = getattr(index, "_shard", None)
    if shard is None:
        return None
    import qdrant_edge as qe  # noqa: PLC0415 - the embedded index only

    from knowledge.index.base import DENSE  # noqa: PLC0415

    for title, article in item.gold:
        flt = qe.Filter(
            must=[
                qe.FieldCondition(key="title", match=qe.MatchValue(title)),
                qe.FieldCondition(key="article", match=qe.MatchValue(article)),
                qe.HasVectorCondition(DENSE),
            ]
        )
        if shard.count(qe.CountRequest(exact=True, filter=flt)):
            return True
    return False


def quality(
    retriever: PolicyRetriever,
    items: list[RetrievalItem],
    corpus_paths: list[Path],
    vector_cache: Path | None,
    *,
    baselines: bool = True,
) -> dict[str, Any]:
    """Law and article recall@5 / MRR@10 of each path, of both hybrids, and of the two plain baselines."""
    searches: dict[str, Callable[[str], list[dict[str, Any]]]] = {
        mode: _searcher(retriever, mode) for mode in ("dense", "bm25", "hybrid")
    }
    if retriever.law_first is not None:
        law_first, retriever.law_first = retriever.law_first, None
        searches["hybrid_rrf"] = _frozen(_searcher(retriever, "hybrid"), items)
        retriever.law_first = law_first
    if baselines:
        searches.update(baseline_searches(corpus_paths, vector_cache))
    out: dict[str, Any] = {}
    for name, search in searches.items():
        scores = score_retrieval(items, search)
        out[name] = {**scores_dict(scores), "misses": list(scores.misses)}
    return out


def _frozen(
    search: Callable[[str], list[dict[str, Any]]], items: list[RetrievalItem]
) -> Callable[[str], list[dict[str, Any]]]:
    """The answers of ``search`` now (the retriever's setting changes back right after)."""
    answers = {item.question: search(item.question) for item in items}
    return lambda question: answers[question]


def run_knowledge_bench(
    ingestor: Ingestor,
    retriever: PolicyRetriever,
    *,
    corpus: Path | list[Path],
    suite: Path,
    vector_cache: Path | None = None,
    baselines: bool = True,
    train_ranker: Path | None = None,
    folds: int = 5,
    index_path: Path,
    dense_sample: int,
    extra_queries: int = 60,
    tune: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run every part; return the figures."""
    corpus_paths = corpus if isinstance(corpus, list) else [corpus]
    result: dict[str, Any] = {"corpus": [str(p) for p in corpus_paths]}
    report = ingestor.ingest_paths(corpus_paths, embed=False, progress=progress)
    result["ingest_text_phase"] = {
        "documents_ingested": report.documents,
        "documents_unchanged": report.unchanged,
        "documents_failed": len(report.failed),
        "chunks": report.chunks,
        "superseded": report.superseded,
        "seconds": round(report.seconds_text, 1),
        "documents_per_s": round(report.documents / report.seconds_text, 1) if report.documents else None,
        "chunks_per_s": round(report.chunks / report.seconds_text, 1) if report.chunks else None,
    }
    index = ingestor.index
    if dense_sample:
        started = time.perf_counter()
        done = ingestor.embed_missing(limit=dense_sample)
        seconds = time.perf_counter() - started
        result["dense_phase_sample"] = {
            "chunks": done,
            "seconds": round(seconds, 1),
            "chunks_per_s": round(done / seconds, 1) if done else None,
        }
    total, in_force = index.count(), index.count(in_force=True)
    dense = index.count(dense_only=True, in_force=True)
    result["index"] = {
        "chunks": total,
        "in_force": in_force,  # repealed and superseded passages get no dense vector
        "with_dense_vector": dense,
        "dense_coverage": round(dense / max(1, in_force), 3),
        "size_mb": round(_dir_size(index_path) / 1e6, 1),
    }
    items = load_retrieval_suite(suite)
    rng = random.Random(7)  # noqa: S311 - a reproducible sample, not cryptography
    # the suite's questions, plus shorter keyword-style queries residents also type
    queries = [item.question for item in items]
    queries += [f"{item.question[:8]}的规定" for item in rng.sample(items, min(extra_queries, len(items)))]
    result["latency"] = {"queries": len(queries)}
    modes: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
    for mode in modes:
        result["latency"][mode] = _latency(retriever, queries, mode)
    if retriever.law_first is not None:  # the same queries through reciprocal-rank fusion, for comparison
        law_first, retriever.law_first = retriever.law_first, None
        result["latency"]["hybrid_rrf"] = _latency(retriever, queries, "hybrid")
        retriever.law_first = law_first
    result["quality"] = {
        "suite": str(suite), "items": len(items),
        # retrieval.jurisdiction: national documents plus these regions' (empty: every region)
        "jurisdiction": list(retriever.jurisdiction) or "every region",
    }  # fmt: skip
    result["quality"].update(quality(retriever, items, corpus_paths, vector_cache if baselines else None,
                                     baselines=baselines))  # fmt: skip
    if train_ranker is not None:
        weights, report_ = train_law_first(items, retriever.rankings, retriever.law_table(), folds=folds)
        train_ranker.write_text(json.dumps(weights.to_json(), indent=1), encoding="utf-8")
        result["law_first_training"] = {**report_, "weights_written_to": str(train_ranker)}
    # the ceiling of a second stage: a reranker can only reorder what the paths bring
    result["quality"]["found_in_top_100"] = candidate_recall(retriever, items)
    if result["index"]["dense_coverage"] < 1:
        # Passages are embedded in point-id order, which is a hash: the ones done so far are a random
        # sample. The questions whose gold article already has a vector estimate the full-coverage
        # figures (slightly optimistic: fewer competing vectors too).
        embedded = [item for item in items if _gold_embedded(index, item)]
        result["quality_where_gold_is_embedded"] = {"items": len(embedded)}
        for mode in modes:
            scores = score_retrieval(embedded, _searcher(retriever, mode))
            result["quality_where_gold_is_embedded"][mode] = {
                "recall_at_5": round(scores.recall_at_k, 3), "mrr_at_10": round(scores.mrr_at_10, 3),
            }  # fmt: skip
        if tune:
            result["fusion_tuning_where_gold_is_embedded"] = tune_fusion(retriever, embedded)
    if tune:
        result["fusion_tuning"] = tune_fusion(retriever, items)
    return result
