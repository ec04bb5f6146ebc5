"""Two plain baselines over the same corpus and questions, so every figure stands beside them.

* USE multilingual, brute-force cosine over each article's title + its first 160 characters;
* BM25 (k1 1.5, b 0.75, rjieba words) over each article's title + its whole text.

Articles come from the product's reader and chunker (the same article boundaries as the index),
nothing else of the product: no index, no fusion, no ranker. USE vectors are cached in a folder
keyed by the text's sha1, so a second run embeds nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rjieba
from scipy import sparse

from knowledge.chunking import chunk_document
from knowledge.config import EmbeddingSettings
from knowledge.embeddings import UseEmbedder
from knowledge.ingest import discover, read_document

Search = Callable[[str], list[dict[str, Any]]]
USE_CHARS = 160


def corpus_articles(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """(title, article, text) of every article under ``paths``; unreadable files are left out."""
    out = []
    for path, root in discover(paths):
        try:
            doc = read_document(path, root)
        except (OSError, ValueError):
            continue
        out += [{"title": doc.meta.title, "article": c.article, "text": c.text} for c in chunk_document(doc)]
    return out


def _cached_vectors(texts: Sequence[str], cache: Path | None, embed: Callable[[list[str]], Any]) -> Any:
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]  # noqa: S324 - a cache key
    known: dict[str, npt.NDArray[np.float32]] = {}
    if cache and (cache / "keys.txt").is_file():
        rows = np.load(cache / "vectors.npy")
        known = dict(zip((cache / "keys.txt").read_text().split(), rows, strict=True))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if missing:
        new = embed([t for _, t in missing])
        known.update(zip((k for k, _ in missing), new, strict=True))
        if cache:
            cache.mkdir(parents=True, exist_ok=True)
            np.save(cache / "vectors.npy", np.vstack(list(known.values())).astype(np.float32))
            (cache / "keys.txt").write_text("\n".join(known))
    return np.vstack([known[k] for k in keys])


def use_baseline(articles: Sequence[dict[str, Any]], cache: Path | None = None) -> Search:
    """Brute-force USE cosine over title + the first 160 characters."""
    model = UseEmbedder(EmbeddingSettings(backend="use", batch_size=64))
    texts = [f"{a['title']} {a['text'][:USE_CHARS]}" for a in articles]
    matrix = _cached_vectors(texts, cache, model.embed_documents)
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)

    def search(question: str) -> list[dict[str, Any]]:
        scores = matrix @ model.embed_query(question)
        return [dict(articles[i]) for i in np.argsort(-scores)[:10]]

    return search


def _words(text: str) -> list[str]:
    return [w.lower() for w in rjieba.cut(text) if w.strip() and any(ch.isalnum() for ch in w)]


def bm25_baseline(articles: Sequence[dict[str, Any]], k1: float = 1.5, b: float = 0.75) -> Search:
    """Plain BM25 over title + whole article."""
    docs = [_words(f"{a['title']} {a['text']}") for a in articles]
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    average = sum(map(len, docs)) / max(1, len(docs))
    for i, words in enumerate(docs):
        norm = k1 * (1 - b + b * len(words) / average)
        for word, tf in Counter(words).items():
            rows.append(i)
            cols.append(vocab.setdefault(word, len(vocab)))
            values.append(tf * (k1 + 1) / (tf + norm))
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(docs), len(vocab))).tocsc()
    df = np.diff(matrix.indptr)
    idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))

    def search(question: str) -> list[dict[str, Any]]:
        ids = sorted({vocab[w] for w in _words(question) if w in vocab})
        if not ids:
            return []
        weights = np.zeros(len(vocab))
        weights[ids] = idf[ids]
        scores = np.asarray(matrix @ weights).ravel()
        return [dict(articles[i]) for i in np.argsort(-scores)[:10] if scores[i] > 0]

    return search


def baseline_searches(paths: Sequence[Path], cache: Path | None) -> dict[str, Search]:
    """Both baselines over the articles under ``paths``."""
    articles = corpus_articles(paths)
    if not articles:
        raise ValueError(f"no article to search under {', '.join(map(str, paths))}")
    return {
        "baseline_use_title160_bruteforce": use_baseline(articles, cache),
        "baseline_bm25_title_article_rjieba": bm25_baseline(articles),
    }
