"""The fake model server and the loopback server it runs on.

:class:`FakeOpenAI` speaks the OpenAI-compatible API (``/v1/models``, ``/v1/chat/completions``
streaming and not, with tool calls, ``/v1/embeddings``) and answers at once from a
:class:`~eval.bench.fakes.Script`, so a test drives the real client and the service over real
HTTP, and a benchmark measures the service and not the model. Every request body is recorded.

For benchmarks, :func:`cite_first_clause` answers like a well-behaved model: the first sentence of
the first clause it was given, cited (``〔title 第X条〕``).

:class:`ServerThread` runs any ASGI app (the fake model, the service itself) on a loopback port in
a daemon thread; it can be stopped and started again on the same port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from typing import Any, Self

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from eval.bench.fakes import Call, Reply, Script, ScriptError, ScriptLike, chunks
from tools.llm.types import Message

logger = logging.getLogger(__name__)

_CITATION = re.compile(r"〔[^〔〕]{2,80}〕")


def cite_first_clause(messages: list[Message]) -> str:
    """The first sentence of the first clause in the prompt, with its citation (else "资料未涉及")."""
    prompt = str(messages[-1].get("content", "")) if messages else ""
    found = _CITATION.search(prompt)
    if not found:
        return "资料未涉及"
    sentence = re.split(r"(?<=[。；])", prompt[found.end() :].split("\n", 1)[0], maxsplit=1)[0]
    return f"{sentence.rstrip('。；')}{found.group(0)}。"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """Run an ASGI app with uvicorn on a loopback port (free, or ``port``) in a daemon thread.

    A context manager; after it exits it can be entered again, on the same port.
    """

    def __init__(self, app: Any, *, port: int | None = None, log_level: str = "warning") -> None:
        self.app = app
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"the server on port {self.port} is already running")
        config = uvicorn.Config(
            self.app, port=self.port, log_level=self._log_level, backlog=4096, timeout_keep_alive=30
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                self.__exit__()
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._server = self._thread = None


def _vector(text: str, dim: int) -> list[float]:
    """A deterministic vector from the text's characters (similar texts, similar vectors)."""
    vec = [0.0] * dim
    for ch in text:
        vec[ord(ch) % dim] += 1.0
    return vec


class FakeOpenAI(ServerThread):
    """The fake model server; a context manager (re-enterable, on the same port). ``base_url`` ends in /v1.

    ``script``: a :class:`Script`, or what makes one (replies, a function of the messages). Streams are
    sent in ``chunk_chars`` pieces. Requests the script cannot answer get a 500 that says why.
    """

    def __init__(
        self,
        script: ScriptLike = None,
        *,
        model: str = "fake-model",
        chunk_chars: int = 1,
        port: int | None = None,
        embedding_dim: int = 8,
        log_level: str = "error",
    ) -> None:
        self.script = Script.of(script)
        self.model = model
        self.chunk_chars = chunk_chars
        self.embedding_dim = embedding_dim
        self.requests: list[dict[str, Any]] = []
        super().__init__(self._build(), port=port, log_level=log_level)
        self.base_url = f"{self.url}/v1"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "fake"}]}

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
            return await self._chat(await request.json())

        return app

    async def _chat(self, body: dict[str, Any]) -> Any:
        self.requests.append(body)
        stream = bool(body.get("stream"))
        asked = ("tools", "tool_choice", "temperature", "max_tokens", "response_format")
        options = {key: body[key] for key in asked if key in body}
        try:
            call = self.script.take(
                "stream" if stream else "chat", body.get("messages", []), options, raising=False
            )
        except ScriptError as exc:
            logger.error("fake model: %s", exc)
            return JSONResponse({"error": {"message": str(exc), "type": "script_error"}}, status_code=500)
        reply = call.reply
        assert reply is not None
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return JSONResponse({"error": {"message": "scripted failure"}}, status_code=reply.status)
        if stream:
            with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(self._stream(reply, call, with_usage), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(reply.tool_calls)
            ]
        finish = "tool_calls" if reply.tool_calls else "stop"
        usage = {"prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
                 "total_tokens": call.prompt_tokens + call.completion_tokens}  # fmt: skip
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
        if body.get("logprobs"):  # the first token's alternatives, as vLLM and llama.cpp give them
            top = list(reply.logprobs) or [(reply.content[:1], 0.0)]
            first = {"token": top[0][0], "logprob": top[0][1], "bytes": None}
            alternatives = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]
            choice["logprobs"] = {"content": [{**first, "top_logprobs": alternatives}]}
        return {
            "id": f"cmpl-{call.index}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model, "choices": [choice], "usage": usage,
        }  # fmt: skip

    async def _stream(self, reply: Reply, call: Call, usage: bool) -> Any:
        """The reply in chunks, a last one with the finish reason, and the usage when it was asked for."""
        head = {"id": "cmpl-stream", "object": "chat.completion.chunk", "created": 0, "model": self.model}
        for i, piece in enumerate(chunks(reply.content, self.chunk_chars)):
            if reply.drop_after is not None and i >= reply.drop_after:
                break
            chunk = {**head, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        if reply.drop_after is not None:
            raise ConnectionResetError("scripted drop")  # uvicorn closes the connection mid-body
        last = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield f"data: {json.dumps(last)}\n\n"
        if usage:  # as OpenAI's stream_options.include_usage: one more chunk, no choices, the usage
            counts = {"prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
                      "total_tokens": call.prompt_tokens + call.completion_tokens}  # fmt: skip
            yield f"data: {json.dumps({**head, 'choices': [], 'usage': counts})}\n\n"
        yield "data: [DONE]\n\n"
