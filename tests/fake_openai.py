"""A scripted fake OpenAI-compatible server on loopback, for testing the client over real HTTP.

Give it a script: each chat request takes the next :class:`Reply` (text, tool calls, an HTTP
error, a delay, a dropped stream). Every request body is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class Reply:
    """One scripted answer."""

    content: str = ""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, raw arguments)
    status: int = 200
    delay_s: float = 0.0
    drop_after: int | None = None  # streaming: cut the connection after this many chunks


class FakeOpenAI:
    """The server; use as a context manager. ``base_url`` ends in /v1."""

    def __init__(self, script: list[Reply] | None = None, model: str = "fake-model") -> None:
        self.script = list(script or [])
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.embedding_dim = 8
        self.app = self._build()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, port=self.port, log_level="error", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def _next(self) -> Reply:
        return self.script.pop(0) if self.script else Reply(content="(script exhausted)")

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "test"}]}

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> dict[str, Any]:
            body = await request.json()
            self.requests.append(body)
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"index": i, "object": "embedding", "embedding": _vector(text, self.embedding_dim)}
                for i, text in enumerate(inputs)
            ]
            return {"object": "list", "data": data, "model": self.model}

        @app.post("/v1/chat/completions", response_model=None)
        async def chat(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            reply = self._next()
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if reply.status != 200:
                return JSONResponse({"error": {"message": "scripted failure"}}, status_code=reply.status)
            if body.get("stream"):
                return StreamingResponse(self._stream(reply), media_type="text/event-stream")
            return self._completion(reply)

        return app

    def _completion(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(reply.tool_calls)
            ]
        return {
            "id": "cmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(reply.content), "total_tokens": 10},
        }

    async def _stream(self, reply: Reply) -> Any:
        for i, piece in enumerate(reply.content):
            if reply.drop_after is not None and i >= reply.drop_after:
                raise ConnectionResetError("scripted drop")  # uvicorn closes the connection mid-body
            chunk = {
                "id": "cmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": self.model,
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"


def _vector(text: str, dim: int) -> list[float]:
    """A deterministic vector from the text's characters (similar texts, similar vectors)."""
    vec = [0.0] * dim
    for ch in text:
        vec[ord(ch) % dim] += 1.0
    return vec
