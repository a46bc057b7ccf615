"""The one bounded event buffer (venue pump, memory-bus subscription, Kafka ingest buffer)."""

from __future__ import annotations

import asyncio

from monitor.bus.buffer import EventBuffer
from tests.unit.test_memory_bus import GUARD_S, tick


class Drops:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, n: int) -> None:
        self.calls.append((reason, n))


async def test_a_put_past_the_capacity_keeps_the_oldest_and_counts_the_rest() -> None:
    drops = Drops()
    buffer = EventBuffer(3, drops)
    events = [tick(i) for i in range(5)]

    taken = buffer.put(events[:2]) + buffer.put(events[2:])

    assert taken == 3
    assert drops.calls == [("queue_full", 2)]
    assert buffer.room() == 0
    assert await buffer.take(10) == events[:3]
    assert buffer.room() == 3


async def test_take_waits_for_events_and_returns_nothing_after_its_timeout() -> None:
    buffer = EventBuffer(10)
    assert await buffer.take(5, timeout_s=0.01) == []
    waiting = asyncio.create_task(buffer.take(5))
    await asyncio.sleep(0)
    assert not waiting.done()
    buffer.put([tick(1)])
    async with asyncio.timeout(GUARD_S):
        assert await waiting == [tick(1)]


async def test_a_closed_buffer_drains_then_returns_empty_at_once() -> None:
    buffer = EventBuffer(10)
    buffer.put([tick(i) for i in range(3)])
    buffer.close()
    async with asyncio.timeout(GUARD_S):
        assert len(await buffer.take(2)) == 2
        assert len(await buffer.take(2)) == 1
        assert await buffer.take(2) == []


async def test_wait_room_returns_once_a_take_frees_room() -> None:
    buffer = EventBuffer(1)
    buffer.put([tick(1)])
    waiting = asyncio.create_task(buffer.wait_room())
    await asyncio.sleep(0)
    assert not waiting.done()
    await buffer.take(1)
    async with asyncio.timeout(GUARD_S):
        await waiting
