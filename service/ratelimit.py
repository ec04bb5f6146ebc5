"""Sliding-window rate limits kept in memory, per key (a chat session, a client address).

One process keeps its own counts; with several workers each enforces the limit on what
it sees (see the README's deployment notes for a shared limit at the proxy).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` events per ``window_s`` seconds per key."""

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def hit(self, key: str) -> float:
        """Count an event; 0.0 when allowed, else the seconds until the next one would be."""
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._sweep(now)
            events = self._events[key] = deque()
        while events and now - events[0] >= self.window_s:
            events.popleft()
        if len(events) >= self.limit:
            return round(self.window_s - (now - events[0]), 1)
        events.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        stale = [k for k, ev in self._events.items() if not ev or now - ev[-1] >= self.window_s]
        for key in stale:
            del self._events[key]
