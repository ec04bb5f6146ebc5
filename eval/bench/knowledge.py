"""``cityagent bench knowledge``: ingestion, index size, latency and quality on the laws corpus.

Everything is measured on the installation the settings name (its data dir), so the
figures describe the embedded default unless the settings say otherwise. Dense figures
are only as complete as the dense phase: the report says how many chunks have vectors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.bench.stats import summary_ms
from eval.retrieval import load_retrieval_suite, score_retrieval
from knowledge.ingest import Ingestor
from knowledge.retriever import Mode, PolicyRetriever


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


def run_knowledge_bench(
    ingestor: Ingestor,
    retriever: PolicyRetriever,
    *,
    corpus: Path,
    suite: Path,
    index_path: Path,
    dense_sample: int,
    extra_queries: int = 60,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run every part; return the figures."""
    result: dict[str, Any] = {"corpus": str(corpus)}
    report = ingestor.ingest_paths([corpus], embed=False, progress=progress)
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
    total, dense = index.count(), index.count(dense_only=True)
    result["index"] = {
        "chunks": total,
        "with_dense_vector": dense,
        "dense_coverage": round(dense / max(1, total), 3),
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
    result["quality"] = {"suite": str(suite), "items": len(items)}
    for mode in modes:
        scores = score_retrieval(items, _searcher(retriever, mode))
        result["quality"][mode] = {
            "recall_at_5": round(scores.recall_at_k, 3),
            "mrr_at_10": round(scores.mrr_at_10, 3),
            "misses": list(scores.misses),
        }
    return result
