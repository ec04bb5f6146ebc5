"""A fast stand-in for the model server, so a benchmark measures the service and not the model.

It speaks the OpenAI-compatible chat API (streaming and not), answers at once, and answers
with the first sentence of the first clause it was given, cited (``〔title 第X条〕``), like a
well-behaved model would.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

_CITATION = re.compile(r"〔[^〔〕]{2,80}〕")


def _answer(messages: list[dict[str, Any]]) -> str:
    """The first sentence of the first clause in the prompt, with its citation."""
    prompt = str(messages[-1].get("content", "")) if messages else ""
    found = _CITATION.search(prompt)
    if not found:
        return "资料未涉及"
    sentence = re.split(r"(?<=[。；])", prompt[found.end() :].split("\n", 1)[0], maxsplit=1)[0]
    return f"{sentence.rstrip('。；')}{found.group(0)}。"


def build_app(token_delay_s: float = 0.0) -> FastAPI:
    """The fake server's app; ``token_delay_s`` spaces streamed tokens (0: as fast as possible)."""
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fast-fake", "object": "model", "owned_by": "bench"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        body = await request.json()
        text = _answer(body.get("messages", []))
        if body.get("stream"):
            return StreamingResponse(_stream(text, token_delay_s), media_type="text/event-stream")
        message = {"role": "assistant", "content": text}
        return {
            "id": "fake", "object": "chat.completion", "created": int(time.time()), "model": "fast-fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(text), "total_tokens": len(text)},
        }  # fmt: skip

    return app


async def _stream(text: str, delay: float) -> Any:
    for i in range(0, len(text), 3):
        choice = {"index": 0, "delta": {"content": text[i : i + 3]}, "finish_reason": None}
        chunk = {
            "id": "fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "fast-fake",
            "choices": [choice],
        }
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        if delay:
            await asyncio.sleep(delay)
    yield "data: [DONE]\n\n"


class ServerThread:
    """Run an ASGI app with uvicorn on a free loopback port in a daemon thread."""

    def __init__(self, app: Any, *, log_level: str = "warning") -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, port=self.port, log_level=log_level, backlog=4096, timeout_keep_alive=30)
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
