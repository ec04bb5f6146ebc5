"""Prometheus metrics: one registry per app, filled by a middleware and by the agents' turn events.

=============================================  ==========================================================
metric                                         what
=============================================  ==========================================================
``cityagent_http_requests_total``              requests by method, route template and status
``cityagent_http_request_seconds``             request time by route template (a stream: to its last byte)
``cityagent_errors_total``                     error envelopes by code
``cityagent_chat_turns_total``                 resident turns by route
``cityagent_chat_turn_seconds``                a whole turn's time
``cityagent_chat_model_seconds``               the model's part of a turn
``cityagent_chat_in_flight``                   turns running now (the chat's queue)
``cityagent_chat_degraded_total``              degraded answers by reason (model down, answer not supported…)
``cityagent_dispatch_confidence``              confidence of the first suggested department
``cityagent_model_calls``                      model calls now ``running`` and ``waiting`` in the queue
``cityagent_model_turned_away_total``          model calls turned away: ``queue_full`` or ``queue_timeout``
=============================================  ==========================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80)


class Metrics:
    """The app's metrics (a registry of its own, so several apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._gate: Callable[[], Any] = lambda: None
        self._watching = False
        r = self.registry
        self.requests = Counter(
            "cityagent_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "cityagent_http_request_seconds", "HTTP request time", ["route"], registry=r
        )
        self.errors = Counter("cityagent_errors", "Error envelopes by code", ["code"], registry=r)
        self.turns = Counter("cityagent_chat_turns", "Resident turns by route", ["route"], registry=r)
        self.turn_seconds = Histogram(
            "cityagent_chat_turn_seconds", "Resident turn time", buckets=_TURN_BUCKETS, registry=r
        )
        self.model_seconds = Histogram(
            "cityagent_chat_model_seconds", "Model time within a turn", buckets=_TURN_BUCKETS, registry=r
        )
        self.in_flight = Gauge("cityagent_chat_in_flight", "Resident turns running now", registry=r)
        self.degraded = Counter(
            "cityagent_chat_degraded", "Degraded answers by reason", ["reason"], registry=r
        )
        self.dispatch_confidence = Histogram(
            "cityagent_dispatch_confidence", "Confidence of the first suggested department",
            buckets=(0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0), registry=r,
        )  # fmt: skip

    def watch_model(self, gate: Callable[[], Any]) -> None:
        """Read the model queue (``gate()``: the client's :class:`ModelGate`, or None) at each scrape."""
        self._gate = gate
        if self._watching:
            return
        self._watching = True
        r = self.registry

        def reader(name: str) -> Callable[[], float]:
            return lambda: float(getattr(self._gate(), name, 0))

        calls = Gauge("cityagent_model_calls", "Model calls running / waiting", ["state"], registry=r)
        turned = Gauge(
            "cityagent_model_turned_away_total", "Model calls the queue turned away", ["reason"], registry=r
        )
        calls.labels("running").set_function(reader("running"))
        calls.labels("waiting").set_function(reader("waiting"))
        turned.labels("queue_full").set_function(reader("refused"))
        turned.labels("queue_timeout").set_function(reader("timed_out"))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Count every HTTP request by its route template (never the raw path: tickets would explode it)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
