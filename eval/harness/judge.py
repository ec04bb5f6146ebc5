"""ragas (0.4 ``collections`` metrics) with a local judge: any OpenAI-compatible model, local embeddings.

The judge is the embedded model by default (the service's own llama.cpp server) or a bigger model
behind vLLM (``--judge-url``/``--judge-model``). Answer relevancy compares embeddings of questions the
judge generates with the real one; those embeddings come from the configured local embedder, never a
cloud API. A metric the judge could not score is NaN: counted and reported, never dropped.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from knowledge.embeddings import Embedder

METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")


def _local_embeddings(embedder: Embedder) -> Any:
    from ragas.embeddings import BaseRagasEmbedding  # noqa: PLC0415 - ragas is heavy: imported when judging

    class LocalEmbeddings(BaseRagasEmbedding):
        """The configured local embedder, as ragas wants it."""

        def embed_text(self, text: str, **_: Any) -> list[float]:
            return [float(v) for v in embedder.embed_query(text)]

        async def aembed_text(self, text: str, **_: Any) -> list[float]:
            return await asyncio.to_thread(self.embed_text, text)

    return LocalEmbeddings()


class Judge:
    """Scores one answered question on the four ragas metrics; keeps the raw verdicts.

    Run items one at a time when judging (``--concurrency 1``): the verdicts of a metric are the
    judge's replies between its start and its end.
    """

    def __init__(self, base_url: str, model: str, embedder: Embedder, *, timeout_s: float = 300.0) -> None:
        from openai import AsyncOpenAI  # noqa: PLC0415
        from ragas.llms import llm_factory  # noqa: PLC0415
        from ragas.metrics.collections import (  # noqa: PLC0415
            AnswerRelevancy,
            ContextPrecision,
            ContextRecall,
            Faithfulness,
        )

        self.describe = f"{model} at {base_url}"
        client = AsyncOpenAI(base_url=base_url, api_key="not-needed", timeout=timeout_s)
        llm = llm_factory(model, client=client)
        self._replies: list[str] = []
        llm.client.on("completion:response", self._keep)  # type: ignore[attr-defined]  # raw verdicts
        self._metrics: dict[str, Any] = {
            "faithfulness": Faithfulness(llm=llm),
            "answer_relevancy": AnswerRelevancy(
                llm=llm, embeddings=_local_embeddings(embedder), strictness=1
            ),
            "context_precision": ContextPrecision(llm=llm),
            "context_recall": ContextRecall(llm=llm),
        }

    def _keep(self, response: Any) -> None:
        try:
            self._replies.append(str(response.choices[0].message.content))
        except (AttributeError, IndexError):
            self._replies.append(repr(response)[:2000])

    async def score(self, question: str, answer: str, contexts: list[str], reference: str) -> dict[str, Any]:
        """``{metric: value or NaN}``, plus ``raw`` verdicts and ``seconds`` per metric."""
        values: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        seconds: dict[str, float] = {}
        for name, metric in self._metrics.items():
            if name in ("context_precision", "context_recall") and not reference:
                continue  # both compare with a reference answer
            if name != "answer_relevancy" and not contexts:
                continue
            started = time.perf_counter()
            first_reply = len(self._replies)
            try:
                if name == "faithfulness":
                    result = await metric.ascore(
                        user_input=question, response=answer, retrieved_contexts=contexts
                    )
                elif name == "answer_relevancy":
                    result = await metric.ascore(user_input=question, response=answer)
                elif name == "context_precision":
                    result = await metric.ascore(
                        user_input=question, reference=reference, retrieved_contexts=contexts
                    )
                else:
                    result = await metric.ascore(
                        user_input=question, retrieved_contexts=contexts, reference=reference
                    )
                value = float(result.value) if result.value is not None else math.nan
                raw[name] = {"verdicts": self._replies[first_reply:]}
            except Exception as exc:  # the judge failing on one item is a NaN, reported, not a crash
                value = math.nan
                raw[name] = {
                    "verdicts": self._replies[first_reply:],
                    "error": f"{type(exc).__name__}: {exc}"[:2000],
                }
            values[name] = value
            seconds[name] = round(time.perf_counter() - started, 2)
        return {**values, "raw": raw, "seconds": seconds}
