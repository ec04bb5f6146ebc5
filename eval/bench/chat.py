"""``cityagent bench chat``: the resident chat over real HTTP, as the widget uses it.

Each session is its own HTTP client (its own cookie), asks its questions one after another
with streaming, and records: time to the first visible event (a ``progress`` line, a notice or
the answer itself: what the widget shows first), time to the clauses found (the ``found``
progress event), time to the first answer token (before progress events, the first thing on
screen: the baseline figure), total time, and the model's time inside the turn (from the
``done`` event). The service's own overhead is total minus model time: routing, retrieval
(embedding the query included), checkpoints, audit, HTTP.

``--model fast`` puts a fast fake model server behind the service (the overhead figure and
the concurrency figure); ``--model configured`` uses the configured backend (the embedded
model by default: time to first token and total for a typical answer).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from eval.bench.fast_model import FakeOpenAI, ServerThread, cite_first_clause
from eval.bench.stats import percentile
from service.app import create_app
from service.settings import Settings

QUESTIONS = (
    "公积金租房提取多久能办好？",
    "办理居住证需要什么材料？",
    "老旧小区加装电梯需要多少业主同意？",
    "养狗需要办证吗？",
    "新生儿出生后要办哪些手续？",
    "灵活就业人员社保补贴怎么申请？",
    "垃圾分类分为哪几类？",
    "晚上几点以后不能装修？",
)


@dataclass
class Turn:
    """One measured turn."""

    ttft_s: float
    total_s: float
    model_s: float
    route: str
    cited: int
    error: str = ""
    degraded: str = ""
    first_event_s: float = 0.0  # the first thing the widget shows (progress, notice or answer)
    found_s: float = 0.0  # the "found N clauses" progress event (0: none in this turn)


VISIBLE = ("progress", "notice", "token", "answer", "error")  # events the widget puts on screen


@dataclass
class ChatBench:
    """What to run."""

    sessions: int = 1
    turns_per_session: int = 1
    concurrency: int = 1
    questions: tuple[str, ...] = QUESTIONS
    timeout_s: float = 300.0
    results: list[Turn] = field(default_factory=list)


async def _session(base: str, bench: ChatBench, index: int, gate: asyncio.Semaphore) -> None:
    async with gate, httpx.AsyncClient(base_url=base, timeout=bench.timeout_s) as client:
        for turn in range(bench.turns_per_session):
            question = bench.questions[(index + turn) % len(bench.questions)]
            bench.results.append(await _ask(client, question))


async def _events(response: httpx.Response, started: float) -> AsyncIterator[tuple[float, str, Any]]:
    """The server-sent events as (seconds since ``started`` when it arrived, kind, data)."""
    kind = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield time.perf_counter() - started, kind, json.loads(line[6:])


def _marks(kind: str, data: Any) -> list[str]:
    """What an event is the first of: something visible, the answer, the clauses found."""
    found = kind == "progress" and isinstance(data, dict) and data.get("stage") == "found"
    is_ = {"visible": kind in VISIBLE, "answer": kind in ("token", "answer"), "found": found}
    return [mark for mark, yes in is_.items() if yes]


async def _ask(client: httpx.AsyncClient, question: str) -> Turn:
    started = time.perf_counter()
    first: dict[str, float] = {}  # when each kind of event first came ("found": the found progress line)
    done: dict[str, Any] = {}
    cited = 0
    error = degraded = ""
    try:
        async with client.stream("POST", "/api/chat", json={"message": question}) as response:
            if response.status_code != 200:
                body = await response.aread()
                return Turn(
                    0, time.perf_counter() - started, 0, "", 0, f"HTTP {response.status_code}: {body[:200]!r}"
                )
            async for at, kind, data in _events(response, started):
                for mark in _marks(kind, data):
                    first.setdefault(mark, at)
                if kind == "citations":
                    cited = len(data)
                elif kind == "done":
                    done = data
                elif kind == "error":
                    degraded = data.get("code", "error")
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    total = time.perf_counter() - started
    if degraded in ("internal", "retrieval_unavailable"):
        error, degraded = degraded, ""
    model_s = done.get("model_ms", 0.0) / 1000
    return Turn(
        first.get("answer", 0.0), total, model_s, done.get("route", ""), cited, error, degraded,
        first.get("visible", 0.0), first.get("found", 0.0),
    )  # fmt: skip


def _figures(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1) if values else float("nan"),
    }


async def _drive(base: str, bench: ChatBench) -> float:
    gate = asyncio.Semaphore(bench.concurrency)
    started = time.perf_counter()
    await asyncio.gather(*(_session(base, bench, i, gate) for i in range(bench.sessions)))
    return time.perf_counter() - started


def run_chat_bench(settings: Settings, bench: ChatBench, *, fast_model: bool) -> dict[str, Any]:
    """Serve the app on loopback (with the fast fake model when asked), drive it, and summarise."""
    if fast_model:
        model_server = FakeOpenAI(cite_first_clause, model="fast-fake", chunk_chars=3, log_level="warning")
        model_server.__enter__()
        llm = {"backend": "vllm", "base_url": model_server.base_url, "model": "fast-fake"}
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update=llm)})
    # the bench is one client address: lift the per-address limit, keep the per-session one
    chat = settings.chat.model_copy(update={"ip_per_minute": 10**9})
    settings = settings.model_copy(update={"chat": chat})
    try:
        with ServerThread(create_app(settings)) as service:
            warm = ChatBench(sessions=1, questions=bench.questions[:1])
            asyncio.run(_drive(service.url, warm))  # model loaded, index opened, embedder warm
            wall_s = asyncio.run(_drive(service.url, bench))
    finally:
        if fast_model:
            model_server.__exit__(None, None, None)
    ok = [t for t in bench.results if not t.error]
    return {
        "model": "fast fake server" if fast_model else settings.llm.backend,
        "sessions": bench.sessions,
        "turns": len(bench.results),
        "concurrency": bench.concurrency,
        "errors": len(bench.results) - len(ok),
        "error_samples": [t.error for t in bench.results if t.error][:3],
        "answered_with_citations": sum(1 for t in ok if t.cited),
        "degraded": {
            d: sum(1 for t in ok if t.degraded == d) for d in sorted({t.degraded for t in ok} - {""})
        },
        "routes": {r: sum(1 for t in ok if t.route == r) for r in sorted({t.route for t in ok})},
        # what the resident sees first (now a progress line) beside the first answer token (before, the first)
        "time_to_first_event": _figures([t.first_event_s for t in ok]),
        "first_event_within_300ms": round(sum(1 for t in ok if 0 < t.first_event_s <= 0.3) / len(ok), 3)
        if ok
        else float("nan"),
        "time_to_clauses_found": _figures([t.found_s for t in ok if t.found_s]),
        "time_to_first_token": _figures([t.ttft_s for t in ok]),
        "total": _figures([t.total_s for t in ok]),
        "model_time": _figures([t.model_s for t in ok]),
        "service_overhead": _figures([t.total_s - t.model_s for t in ok]),
        "turns_per_s": round(len(ok) / wall_s, 1) if wall_s else 0.0,
    }
