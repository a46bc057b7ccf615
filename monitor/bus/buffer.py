"""The one bounded event buffer: a FIFO whose `put` never waits and drops what does not fit.

Three places hold events between a producer that must not wait and a consumer that may:
a venue's pump (socket readers → the bus, `monitor.sources.manager`), each memory-bus
subscription (`monitor.bus.memory`) and the Kafka ingest buffer (sources → the producer,
`monitor.runtime.kafka.roles`). All three are an `EventBuffer`. A put beyond ``capacity`` keeps the
oldest events and drops the newest, reported as ``on_drop("queue_full", n)``; the memory
bus, which waits for room first, uses `room` and `wait_room` and puts only what fits; a
Kafka replay's source, which must lose nothing, uses `put_waiting`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence

from monitor.bus.base import DropCallback
from monitor.events import Event


class EventBuffer:
    """A bounded FIFO of events for one consumer. Create it inside the running event loop.

    Args:
        capacity: the most events it holds.
        on_drop: called as ``on_drop("queue_full", n)`` when a put drops `n` events.
    """

    def __init__(self, capacity: int, on_drop: DropCallback | None = None) -> None:
        self.capacity = capacity
        self._items: deque[Event] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._on_drop = on_drop
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def depth(self) -> int:
        """Return the number of buffered events."""
        return len(self._items)

    def room(self) -> int:
        """Return how many more events fit (0 when full)."""
        return max(self.capacity - len(self._items), 0)

    def put(self, events: Sequence[Event]) -> int:
        """Append what fits (never waits); drop the rest, counted; return how many were taken."""
        room = self.room()
        taken = events if len(events) <= room else events[:room]
        self._items.extend(taken)
        if len(taken) < len(events) and self._on_drop is not None:
            self._on_drop("queue_full", len(events) - len(taken))
        if taken:
            self._readable.set()
        if not self.room():
            self._writable.clear()
        return len(taken)

    async def put_waiting(self, events: Sequence[Event]) -> int:
        """Append all of `events`, waiting for room as the consumer takes; return how many.

        Drops nothing (only what is left if the buffer was closed before, counted). Call it
        only while the consumer still takes: it waits for room as long as it takes.
        """
        done = 0
        while done < len(events) and not self.closed:
            await self._writable.wait()
            done += self.put(events[done : done + self.room()])
        if done < len(events) and self._on_drop is not None:
            self._on_drop("queue_full", len(events) - done)
        return done

    async def wait_room(self) -> None:
        """Return once there is room for at least one event."""
        await self._writable.wait()

    async def take(
        self,
        limit: int,
        timeout_s: float | None = None,
        *,
        until: Callable[[Event], bool] | None = None,
    ) -> list[Event]:
        """Return up to `limit` events, oldest first, waiting for some.

        Returns [] after `timeout_s` seconds without any (None: wait as long as it takes),
        and at once when the buffer is closed and empty. With `until`, the batch ends at the
        first event it is true for (that event included).
        """
        if not self._items and not self.closed:
            try:
                async with asyncio.timeout(timeout_s):
                    while not self._items and not self.closed:
                        self._readable.clear()
                        await self._readable.wait()
            except TimeoutError:
                return []
        n = min(limit, len(self._items))
        popleft = self._items.popleft
        if until is None:
            batch = [popleft() for _ in range(n)]
        else:
            batch = []
            while len(batch) < n:
                batch.append(popleft())
                if until(batch[-1]):
                    break
        if batch:
            self._writable.set()
        return batch

    def close(self) -> None:
        """No more events will come: `take` drains what is left, then returns []."""
        self.closed = True
        self._readable.set()
