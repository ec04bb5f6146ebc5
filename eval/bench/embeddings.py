"""``cityagent bench embeddings``: passages/s and ms per query of the embedding backends.

Timed on real text: the demo city's policy articles (one passage per 第X条), not on
short sentences, because the cost of these models grows with length.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eval.bench.stats import summary_ms
from knowledge.chunking import chunk_document
from knowledge.config import EmbeddingSettings
from knowledge.documents import make_document
from knowledge.embeddings import build_embedder


def article_passages(documents_dir: Path) -> list[str]:
    """Every article chunk of every Markdown document in ``documents_dir`` (the ingestion chunker)."""
    passages: list[str] = []
    for path in sorted(documents_dir.glob("*.md")):
        doc = make_document(path.read_text(encoding="utf-8"), path.name)
        passages += [chunk.text for chunk in chunk_document(doc)]
    return passages


def run_embedding_bench(
    settings: EmbeddingSettings, documents_dir: Path, backends: list[str]
) -> dict[str, Any]:
    """Time each backend on the articles; return figures per backend."""
    passages = article_passages(documents_dir)
    queries = [p[:30] for p in passages[:50]]
    mean_chars = sum(map(len, passages)) / len(passages)
    results: dict[str, Any] = {"passages": len(passages), "mean_chars": round(mean_chars, 1), "backends": {}}
    for name in backends:
        embedder = build_embedder(settings.model_copy(update={"backend": name}))
        t0 = time.perf_counter()
        embedder.embed_query("预热")
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        vectors = embedder.embed_documents(passages)
        elapsed = time.perf_counter() - t0
        query_times = []
        for q in queries:
            t1 = time.perf_counter()
            embedder.embed_query(q)
            query_times.append(time.perf_counter() - t1)
        results["backends"][name] = {
            "model": embedder.name,
            "dim": int(vectors.shape[1]),
            "load_s": round(load_s, 2),
            "passages_per_s": round(len(passages) / elapsed, 1),
            "query": summary_ms(query_times),
        }
    return results
