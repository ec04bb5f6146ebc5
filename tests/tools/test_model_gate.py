"""The model's admission gate: calls run a bounded number at a time, wait first come first served,
and give up cleanly (queue full, or waited too long) with a message that says why."""

from __future__ import annotations

import asyncio

import pytest

from tools.llm import LLMBusyError, LLMUnavailableError
from tools.llm.gate import ModelGate


async def test_waiting_calls_are_admitted_in_arrival_order() -> None:
    gate = ModelGate(max_concurrent=1, max_waiting=10, queue_timeout_s=5)
    order: list[int] = []

    async def call(i: int) -> None:
        async with gate.slot():
            order.append(i)
            await asyncio.sleep(0.01)

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(call(i)))
        await asyncio.sleep(0)  # arrive one after another
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]
    assert (gate.admitted, gate.running, gate.waiting) == (6, 0, 0)


async def test_at_most_max_concurrent_run_at_once() -> None:
    gate = ModelGate(max_concurrent=2, max_waiting=10, queue_timeout_s=5)
    peak = 0

    async def call() -> None:
        nonlocal peak
        async with gate.slot():
            peak = max(peak, gate.running)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(call() for _ in range(8)))
    assert peak == 2


async def test_a_call_that_waits_too_long_gives_up_saying_so() -> None:
    gate = ModelGate(max_concurrent=1, max_waiting=10, queue_timeout_s=0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    with pytest.raises(LLMBusyError, match="waited 0 s in the queue with 1 calls ahead") as caught:
        async with gate.slot():
            pass
    assert isinstance(caught.value, LLMUnavailableError)  # agents degrade on it like on a model that is down
    assert gate.timed_out == 1 and gate.waiting == 0
    release.set()
    await holder
    async with gate.slot() as waited:  # the slot the timed-out call gave up is free again
        assert waited < 0.05


async def test_a_full_queue_refuses_at_once() -> None:
    gate = ModelGate(max_concurrent=1, max_waiting=2, queue_timeout_s=5)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(3)]  # one runs, two wait
    await asyncio.sleep(0.01)
    with pytest.raises(LLMBusyError, match="1 calls running and 2 waiting"):
        async with gate.slot():
            pass
    assert gate.refused == 1
    release.set()
    await asyncio.gather(*tasks)
