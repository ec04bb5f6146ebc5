"""``cityagent bench orders``: concurrent work-order creation through the API, then a loss/duplicate check.

N requests at once (each with its own client key), then a second wave re-sending a share of
them (a client that retries after a timeout). Afterwards every acknowledged ticket must be in
the store, the store must hold exactly N orders, and each retried key must have answered
with the ticket it got the first time.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from eval.bench.fast_model import ServerThread
from eval.bench.stats import summary_ms
from service.app import create_app
from service.settings import Settings, load_settings
from tools.db import make_engine, migrate
from tools.users import UserStore
from tools.work_orders import WorkOrderStore

TEXTS = (
    "北岭区建设路{n}号供水管道爆裂，路面被淹",
    "东湖区湖滨路{n}号小区门口垃圾三天没人清运",
    "西城区新华路{n}号夜间施工噪音扰民",
    "南山区幸福路{n}号路灯不亮，晚上很黑",
)


async def _create(client: httpx.AsyncClient, n: int, key: str) -> tuple[int, str, float, str]:
    started = time.perf_counter()
    body = {"text": TEXTS[n % len(TEXTS)].format(n=n), "client_key": key, "channel": "bench"}
    try:
        response = await client.post("/api/orders", json=body)
    except httpx.HTTPError as exc:
        return 0, "", time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    ticket = response.json().get("ticket", "") if response.status_code in (200, 201) else ""
    error = "" if ticket else f"HTTP {response.status_code}: {response.text[:200]}"
    return response.status_code, ticket, time.perf_counter() - started, error


async def _wave(
    base: str, token: str, keys: list[tuple[int, str]], connections: int
) -> list[tuple[int, str, float, str]]:
    """All requests at once, over ``connections`` connections split among clients of 50.

    (httpcore scans its whole pool on every request: one pool of 1,000 connections would make
    the client, not the service, the bottleneck.)
    """
    per_client = 50
    clients = [
        httpx.AsyncClient(
            base_url=base,
            headers={"authorization": f"Bearer {token}"},
            timeout=120,
            limits=httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client),
        )
        for _ in range(max(1, connections // per_client))
    ]
    try:
        return list(
            await asyncio.gather(
                *(_create(clients[i % len(clients)], n, key) for i, (n, key) in enumerate(keys))
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def _drive(
    base: str, token: str, keys: list[tuple[int, str]], connections: int
) -> list[tuple[int, str, float, str]]:
    """Run a wave in a child process, so the load does not share the service's interpreter."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_run_wave, base, token, keys, connections).result()


def _run_wave(
    base: str, token: str, keys: list[tuple[int, str]], connections: int
) -> list[tuple[int, str, float, str]]:
    return asyncio.run(_wave(base, token, keys, connections))


def run_orders_bench(
    settings: Settings | None, *, orders: int, retry_share: float, connections: int
) -> dict[str, Any]:
    """Serve the app on loopback over ``settings`` (a fresh SQLite data dir when None) and hammer it."""
    scratch = None
    if settings is None:
        scratch = tempfile.TemporaryDirectory(prefix="cityagent-bench-orders-")
        settings = load_settings(data_dir=Path(scratch.name), llm={"backend": "none"})
    engine = make_engine(settings.database, settings.data_dir)
    migrate(engine)
    store = WorkOrderStore(engine)
    before = store.count()
    username, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    UserStore(engine).add(username, password, ["caseworker"])
    run = secrets.token_hex(4)
    keys = [(n, f"bench-{run}-{n:06d}") for n in range(orders)]
    retried = keys[: int(orders * retry_share)]
    try:
        with ServerThread(create_app(settings)) as server:
            login = httpx.post(
                f"{server.url}/api/auth/login", json={"username": username, "password": password}
            )
            token = login.json()["token"]
            started = time.perf_counter()
            first = _drive(server.url, token, keys, connections)
            wall = time.perf_counter() - started
            second = _drive(server.url, token, retried, connections)
    finally:
        UserStore(engine).set_disabled(username)
        if scratch is not None:
            engine.dispose()
    acked = {key: ticket for (n, key), (_, ticket, _, _) in zip(keys, first, strict=True) if ticket}
    every_ticket = set(acked.values()) | {ticket for _, ticket, _, _ in second if ticket}
    stored = store.count() - before
    missing = [t for t in acked.values() if not _exists(store, t)]
    retry_mismatch = sum(
        1 for (_, key), (_, ticket, _, _) in zip(retried, second, strict=True) if ticket != acked.get(key)
    )
    result = {
        "database": engine.dialect.name,
        "orders": orders,
        "connections": connections,
        "acknowledged": len(acked),
        "errors": [e for *_, e in first if e][:3],
        "stored": stored,
        "lost_acknowledged": len(missing),
        "duplicates": stored - len(every_ticket),
        "retried": len(retried),
        "retries_answered_with_the_same_ticket": len(retried) - retry_mismatch,
        "wall_s": round(wall, 2),
        "orders_per_s": round(len(acked) / wall, 1) if wall else 0.0,
        "latency": summary_ms([s for _, _, s, e in first if not e]),
    }
    engine.dispose()
    if scratch is not None:
        scratch.cleanup()
    return result


def _exists(store: WorkOrderStore, ticket: str) -> bool:
    try:
        store.get(ticket)
    except Exception:  # any failure to read it back counts as lost
        return False
    return True
