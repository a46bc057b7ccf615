"""The ingest buffer: a bounded FIFO between the sources and the Kafka publisher.

Live sources never wait on Kafka: a put beyond the bound drops the newest events, counted
(``liqmon_events_dropped_total{reason="queue_full"}``). A replay's source waits for room
instead (``wait=True``): a recording is read much faster than Kafka takes it, and dropping
its tail would change its alerts (it did: the last hours of ``feb-2026`` went missing).

`take` hands out at most one margin change per call, as the last event of what it returns,
so the publisher, which waits for a take's acknowledgement before the next take, stores a
change before any event that followed it (`monitor.kafka_margin` relies on that order).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence

from monitor.events import Event, MarginChange


class IngestBuffer:
    """A bounded FIFO between the sources and the Kafka producer.

    Args:
        max_events: the bound.
        on_drop: called as ``on_drop("queue_full", n)`` for what a put could not take.
        wait: a put waits for room instead of dropping (replays).
    """

    def __init__(
        self, max_events: int, on_drop: Callable[[str, int], None], *, wait: bool = False
    ) -> None:
        self.max_events = max_events
        self.wait = wait
        self._items: deque[Event] = deque()
        self._margins = 0  # margin changes in `_items`
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._on_drop = on_drop
        self.closed = False

    async def put(self, events: Sequence[Event]) -> int:
        """Append what fits; return how many were taken (all of them with ``wait``).

        Without ``wait`` it never waits; with it, it waits for the publisher to make room.
        """
        done = 0
        while True:
            room = max(self.max_events - len(self._items), 0)
            taken = events[done : done + room]
            self._items.extend(taken)
            self._margins += sum(type(e) is MarginChange for e in taken)
            done += len(taken)
            if taken:
                self._ready.set()
            if done == len(events) or not self.wait or self.closed:
                break
            self._room.clear()
            await self._room.wait()
        if done < len(events):
            self._on_drop("queue_full", len(events) - done)
        return done

    async def take(self, limit: int) -> list[Event]:
        """Wait for events (or close); return up to `limit` of them ([] once closed and empty).

        What it returns ends at the first margin change, if it holds one.
        """
        while not self._items and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        n = min(limit, len(self._items))
        out: list[Event] = []
        for _ in range(n):
            event = self._items.popleft()
            out.append(event)
            if self._margins and type(event) is MarginChange:
                self._margins -= 1
                break
        self._room.set()
        return out

    def close(self) -> None:
        """No more puts; `take` drains what is left, then returns []."""
        self.closed = True
        self._ready.set()
        self._room.set()

    def depth(self) -> int:
        """Return the number of buffered events."""
        return len(self._items)
