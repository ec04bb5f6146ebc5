"""The residents' chat: ``POST /api/chat`` (server-sent events or one JSON answer), history, reset.

Residents are anonymous: a random session id, issued by the server and signed with the service's
key, names the conversation (its LangGraph thread). It travels only in an HttpOnly, SameSite=Lax
cookie (``id.signature``), so a conversation continues across page loads, workers and restarts, and
a session id the client makes up (or one without a valid signature) is replaced by a new one.
Dropping the cookie starts a new session but escapes no limit: the per-address limit still counts.

Streamed events (``text/event-stream``), in order::

    event: session    {"session": "…"}
    event: notice     "【紧急情况】…"                  (emergencies, before anything else)
    event: progress   {"stage", "text", "clauses", "documents"}
                      (zero or more, before the tokens: looking up at once, then found N clauses in
                      《…》, then writing; see agents.resident.progress)
    event: token      "文本片段"                       (zero or more)
    event: error      {"code", "message"}              (the model failed mid-answer; the answer follows)
    event: answer     {"text", "route"}                (the final, verified text: replaces the tokens)
    event: citations  [{"citation", "title", "label", "text", "source", …}]
    event: ticket     {"ticket"}                       (a work order was filed)
    event: done       {"route", "latency_ms", "model_ms"}
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agents.resident.runner import ResidentAssistant, TurnEvent
from service.auth import optional_user, sign, viewer
from service.container import Services
from service.deps import get_services
from service.errors import ServiceError, rate_limited
from tools.privacy import mask_pii

router = APIRouter(tags=["chat"])

COOKIE = "cityagent_session"
_SESSION = re.compile(r"^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{43})$")


class ChatRequest(BaseModel):
    """A resident's message."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, max_length=20_000, description="The message (the service limit is lower)."
    )
    stream: bool = Field(default=True, description="Server-sent events (true) or one JSON answer (false).")


class Citation(BaseModel):
    """The clause an answer relies on, with its exact text and where it is in the source."""

    citation: str
    title: str
    label: str
    text: str
    source: str = ""
    doc_id: str = ""
    doc_number: str = ""
    start: int | None = None
    end: int | None = None
    point_id: str = ""


class ChatReply(BaseModel):
    """The non-streaming answer: the same content as the stream's events."""

    session: str
    route: str
    answer: str
    citations: list[Citation]
    ticket: str | None = None
    notice: str | None = None
    error: dict[str, str] | None = None
    latency_ms: float
    model_ms: float


class HistoryResponse(BaseModel):
    """The conversation of this session (personal data masked) and the tickets it filed."""

    session: str
    messages: list[dict[str, Any]]
    tickets: list[str]


def _signature(services: Services, sid: str) -> str:
    return sign(services.secret, f"chat-session:{sid}")


def _session(request: Request, services: Services) -> tuple[str, bool]:
    """The session id of a validly signed cookie, or a new one (and whether it is new)."""
    match = _SESSION.match(request.cookies.get(COOKIE, ""))
    if match and hmac.compare_digest(match.group(2), _signature(services, match.group(1))):
        return match.group(1), False
    return secrets.token_urlsafe(24), True


def _set_cookie(response: Response, sid: str, services: Services) -> None:
    response.set_cookie(
        COOKIE, f"{sid}.{_signature(services, sid)}", max_age=services.settings.chat.session_days * 86400,
        httponly=True, samesite="lax", secure=services.settings.env != "dev",
    )  # fmt: skip


def _conversation(sid: str) -> str:
    return f"web:{sid}"


def _assistant(services: Services) -> ResidentAssistant:
    if services.assistant is None:
        raise ServiceError(503, "assistant_unavailable", "对话服务尚未就绪，请稍后再试。")
    return services.assistant


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _check_limits(services: Services, sid: str, request: Request, message: str) -> None:
    limit = services.settings.chat.max_message_chars
    if len(message) > limit:
        raise ServiceError(
            413, "message_too_long", f"消息过长：最多 {limit} 个字符，收到 {len(message)} 个。", "message"
        )
    if not message.strip():
        raise ServiceError(422, "invalid_request", "消息不能为空。", "message")
    for limiter, key, who in (
        (services.session_limiter, sid, "本会话"),
        (services.ip_limiter, _client_ip(request), "您的网络地址"),
    ):
        wait = limiter.hit(key)
        if wait:
            raise rate_limited(f"{who}发送过于频繁，请 {wait:.0f} 秒后再试。", wait)


def _sse(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.post(
    "/api/chat",
    response_model=ChatReply,
    responses={200: {"content": {"text/event-stream": {}}}, 413: {}, 429: {}},
)
async def chat(
    body: ChatRequest, request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """Ask a question or report a problem; the answer streams as server-sent events unless not ``stream``."""
    sid, new = _session(request, services)
    _check_limits(services, sid, request, body.message)
    assistant = _assistant(services)
    who = viewer(optional_user(request, services))  # from the sign-in, never from the message
    events = _observed(request, assistant.turn(_conversation(sid), body.message.strip(), who))
    if body.stream:

        async def stream() -> AsyncIterator[bytes]:
            yield _sse("session", {"session": sid})
            async for event in events:
                yield _sse(event.kind, event.data)

        response: Response = StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    else:
        response = Response((await _collect(sid, events)).model_dump_json(), media_type="application/json")
    if new:
        _set_cookie(response, sid, services)
    return response


async def _observed(request: Request, events: AsyncIterator[TurnEvent]) -> AsyncIterator[TurnEvent]:
    """Pass the events on; count the turn, its time, its model time and any degradation."""
    metrics = request.app.state.metrics
    metrics.in_flight.inc()
    try:
        async for event in events:
            if event.kind == "error":
                metrics.degraded.labels(str(event.data.get("code", "error"))).inc()
            elif event.kind == "done":
                metrics.turns.labels(event.data["route"]).inc()
                metrics.turn_seconds.observe(event.data["latency_ms"] / 1000)
                metrics.model_seconds.observe(event.data["model_ms"] / 1000)
            yield event
    finally:
        metrics.in_flight.dec()


async def _collect(sid: str, events: AsyncIterator[TurnEvent]) -> ChatReply:
    fields: dict[str, Any] = {
        "session": sid,
        "route": "",
        "answer": "",
        "citations": [],
        "latency_ms": 0,
        "model_ms": 0,
    }
    async for event in events:
        if event.kind == "answer":
            fields.update(answer=event.data["text"], route=event.data["route"])
        elif event.kind == "citations":
            fields["citations"] = event.data
        elif event.kind == "ticket":
            fields["ticket"] = event.data["ticket"]
        elif event.kind == "notice":
            fields["notice"] = event.data
        elif event.kind == "error":
            fields["error"] = event.data
        elif event.kind == "done":
            fields.update(
                route=event.data["route"],
                latency_ms=event.data["latency_ms"],
                model_ms=event.data["model_ms"],
            )
    return ChatReply.model_validate(fields)


@router.get("/api/chat/history", response_model=HistoryResponse)
async def history(request: Request, services: Annotated[Services, Depends(get_services)]) -> HistoryResponse:
    """The session's conversation, so the widget can show it again after a reload or a restart."""
    sid, _ = _session(request, services)
    values = await _assistant(services).last_turn(_conversation(sid))  # one read of the checkpoint
    # stored masked; masked again for conversations checkpointed before messages were masked on arrival
    messages = [{**m, "content": mask_pii(str(m.get("content", "")))} for m in values.get("messages", [])]
    return HistoryResponse(session=sid, messages=messages, tickets=list(values.get("tickets", [])))


@router.post("/api/chat/reset", status_code=204)
async def reset(services: Annotated[Services, Depends(get_services)]) -> Response:
    """Start a new conversation (a new session id; the old one stays in the audit trail)."""
    response = Response(status_code=204)
    _set_cookie(response, secrets.token_urlsafe(24), services)
    return response
