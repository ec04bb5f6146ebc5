"""The reranker speaking vLLM's /rerank and /score and TEI's /rerank, against a scripted loopback server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from knowledge.config import RerankSettings
from knowledge.errors import KnowledgeError, RerankerUnavailableError
from knowledge.rerank import HTTPReranker, build_reranker
from knowledge.retriever import Hit, PolicyRetriever, Timing
from tests.fake_rerank import Answer, FakeRerank

QUERY = "押金退还"
PASSAGES = ["工资按月支付", "押金应当退还", "定金不退"]
BEST_FIRST = [1, 2, 0]  # by the fake model's overlap


@pytest.mark.parametrize(
    ("api", "backend", "root"),
    [
        ("vllm", "vllm-rerank", ""),
        ("vllm", "vllm-rerank", "/v1"),
        ("vllm", "vllm-score", ""),
        ("vllm", "vllm-score", "/v1"),
        ("tei", "tei", ""),
    ],
)
async def test_each_api_scores_in_the_passages_order(api: str, backend: str, root: str) -> None:
    with FakeRerank(api) as server:  # type: ignore[arg-type]
        settings = RerankSettings(
            backend=backend,
            base_url=server.base_url + root + "/",
            model="bge-reranker-v2-m3",
            api_key=SecretStr("k"),
        )  # type: ignore[arg-type]
        reranker = build_reranker(settings)
        assert isinstance(reranker, HTTPReranker)
        scores = await reranker.score(QUERY, PASSAGES)
        assert sorted(range(3), key=lambda i: -scores[i]) == BEST_FIRST
        path, body = server.requests[0]
        assert path == root + ("/score" if backend == "vllm-score" else "/rerank")
        if backend == "vllm-rerank":
            assert body == {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": PASSAGES}
        elif backend == "vllm-score":
            assert body == {"model": "bge-reranker-v2-m3", "text_1": QUERY, "text_2": PASSAGES}
        else:
            assert body == {"query": QUERY, "texts": PASSAGES, "truncate": True}
        assert await reranker.score(QUERY, []) == [] and len(server.requests) == 1


@pytest.mark.parametrize("answer", [Answer(status=503), Answer(broken=True), Answer(delay_s=2.0)])
async def test_a_failing_server_raises_unavailable(answer: Answer) -> None:
    with FakeRerank("vllm", [answer]) as server:
        reranker = HTTPReranker("vllm-rerank", server.base_url, timeout_s=0.5)
        with pytest.raises(RerankerUnavailableError, match=r"reranker http://127\.0\.0\.1"):
            await reranker.score(QUERY, PASSAGES)


async def test_nothing_listening_raises_unavailable() -> None:
    with FakeRerank("tei") as server:
        url = server.base_url
    with pytest.raises(RerankerUnavailableError, match="did not answer"):
        await HTTPReranker("tei", url, timeout_s=0.5).score(QUERY, PASSAGES)


def test_settings_pick_the_backend(tmp_path: Path) -> None:
    assert build_reranker(RerankSettings()) is None
    with pytest.raises(KnowledgeError, match=r"rerank\.base_url"):
        build_reranker(RerankSettings(backend="tei"))
    with pytest.raises(KnowledgeError, match=r"rerank\.model_path"):
        build_reranker(RerankSettings(backend="cross-encoder"))


def _retriever(reranker: HTTPReranker) -> PolicyRetriever:
    """A retriever whose first stage returns three hits in a known order (the index is not the subject)."""
    retriever = PolicyRetriever(None, None, reranker=reranker, rerank_top=3)  # type: ignore[arg-type]
    hits = [
        Hit(f"p{i}", 1.0 - i / 10, {"text": t, "title": "法", "label": f"第{i + 1}条"})
        for i, t in enumerate(PASSAGES)
    ]
    retriever._retrieve = lambda *a: (hits, Timing())  # type: ignore[method-assign]
    return retriever


async def test_the_retriever_reorders_by_the_server_and_keeps_its_order_when_the_server_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeRerank("vllm", [Answer(), Answer(status=500)]) as server:
        retriever = _retriever(HTTPReranker("vllm-rerank", server.base_url))
        hits = await retriever.search(QUERY, k=2)
        assert [h.point_id for h in hits] == ["p1", "p2"] and hits[0].ranks["rerank"] == 1
        assert retriever.last_timing.rerank_ms > 0
        with caplog.at_level(logging.WARNING, logger="knowledge.retriever"):
            degraded = await retriever.search(QUERY, k=2)
        assert [h.point_id for h in degraded] == ["p0", "p1"]  # the fused order, not a failed search
        assert "hybrid order kept" in caplog.text
