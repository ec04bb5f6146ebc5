"""A scripted reranking server on loopback: vLLM's ``/rerank``, ``/v1/rerank``, ``/score``, ``/v1/score``
and text-embeddings-inference's ``/rerank`` (chosen by ``api``), for testing the client over real HTTP.

A passage scores by how many characters of the query it holds (so the order can be checked), unless the
script says otherwise: each request takes the next :class:`Answer` (an HTTP error, a delay, a broken body).
Every request body is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from eval.bench.fast_model import ServerThread


@dataclass
class Answer:
    """One scripted answer (default: the real one)."""

    status: int = 200
    delay_s: float = 0.0
    broken: bool = False  # a 200 with a body of the wrong shape


def overlap(query: str, passage: str) -> float:
    """The fake model's relevance: characters of the query found in the passage."""
    return float(sum(ch in passage for ch in set(query)))


class FakeRerank(ServerThread):
    """The server; a context manager. ``base_url`` is the root (vLLM also answers under /v1)."""

    def __init__(self, api: Literal["vllm", "tei"], script: list[Answer] | None = None) -> None:
        self.api = api
        self.script = list(script or [])
        self.requests: list[tuple[str, dict[str, Any]]] = []
        super().__init__(self._build(), log_level="error")
        self.base_url = self.url

    async def _answer(self, path: str, request: Request) -> Any:
        body = await request.json()
        self.requests.append((path, body))
        answer = self.script.pop(0) if self.script else Answer()
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if answer.status != 200:
            return PlainTextResponse("model overloaded", status_code=answer.status)
        if answer.broken:
            return JSONResponse({"unexpected": True})
        if path.endswith("score"):
            scores = [overlap(body["text_1"], t) for t in body["text_2"]]
            data = [{"index": i, "object": "score", "score": s} for i, s in enumerate(scores)]
            return {"id": "score-1", "object": "list", "model": body.get("model"), "data": data}
        if self.api == "tei":
            scores = [overlap(body["query"], t) for t in body["texts"]]
            return sorted(({"index": i, "score": s} for i, s in enumerate(scores)), key=lambda r: -r["score"])
        scores = [overlap(body["query"], d) for d in body["documents"]]
        results = sorted(
            (
                {"index": i, "relevance_score": s, "document": {"text": body["documents"][i]}}
                for i, s in enumerate(scores)
            ),
            key=lambda r: -float(r["relevance_score"]),  # type: ignore[arg-type]
        )
        return {
            "id": "rerank-1",
            "model": body.get("model"),
            "usage": {"total_tokens": 1},
            "results": results,
        }

    def _build(self) -> FastAPI:
        app = FastAPI()
        paths = ["/rerank"] if self.api == "tei" else ["/rerank", "/v1/rerank", "/score", "/v1/score"]
        for path in paths:

            async def handler(request: Request, path: str = path) -> Any:
                return await self._answer(path, request)

            app.post(path)(handler)
        return app
