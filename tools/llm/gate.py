"""Admission to the model: a bounded number of calls at a time, the rest wait in arrival order.

A model server on two cores answers one request at a time; without a gate, two hundred
residents' turns would all be sent at once and every one of them would time out together.
The gate lets ``max_concurrent`` calls run, queues up to ``max_waiting`` more in FIFO order
(asyncio's semaphore wakes waiters first come, first served), and refuses the rest at once.
A call that waits longer than ``queue_timeout_s`` gives up with :class:`LLMBusyError`, whose
message says how long it waited and how many were ahead, so the agent can degrade cleanly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tools.llm.errors import LLMBusyError


class ModelGate:
    """FIFO admission with a bounded queue and a queue timeout."""

    def __init__(self, max_concurrent: int, max_waiting: int, queue_timeout_s: float) -> None:
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self.queue_timeout_s = queue_timeout_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self.waiting = 0
        self.running = 0
        self.refused = 0  # queue full
        self.timed_out = 0  # waited too long
        self.admitted = 0
        self.wait_seconds_total = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold one model slot for the ``async with`` body; yields the seconds spent waiting."""
        if self.waiting >= self.max_waiting and self._slots.locked():
            self.refused += 1
            raise LLMBusyError(
                f"the model is busy: {self.running} calls running and {self.waiting} waiting "
                f"(the queue holds {self.max_waiting})"
            )
        ahead = self.running + self.waiting
        self.waiting += 1
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
        except TimeoutError:
            self.timed_out += 1
            raise LLMBusyError(
                f"the model is busy: waited {self.queue_timeout_s:.0f} s in the queue "
                f"with {ahead} calls ahead"
            ) from None
        finally:
            self.waiting -= 1
        waited = time.perf_counter() - started
        self.admitted += 1
        self.wait_seconds_total += waited
        self.running += 1
        try:
            yield waited
        finally:
            self.running -= 1
            self._slots.release()
