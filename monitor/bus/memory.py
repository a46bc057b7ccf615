"""In-process bus: bounded per-subscriber queues with fan-out by topic.

Each subscription holds an `EventBuffer` bounded by ``capacity`` events. Publishing waits (up to the
caller's timeout) for room in every subscriber it must reach; what does not fit is dropped
and reported through ``on_drop("queue_full", n)``. Ordering is publish order, per
subscription, across topics, which keeps replays deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from monitor.bus.base import DropCallback
from monitor.bus.buffer import EventBuffer
from monitor.events import TOPIC_OF_TYPE, Event, topic_of


def _ignore_drop(reason: str, count: int) -> None:
    del reason, count


class MemorySubscription:
    """A bounded queue of events for one consumer (an `EventBuffer`)."""

    def __init__(self, topics: Sequence[str], name: str, capacity: int) -> None:
        self.topics = frozenset(topics)
        self.name = name
        self.capacity = capacity
        self._buffer = EventBuffer(capacity)

    def __len__(self) -> int:
        return len(self._buffer)

    def room(self) -> int:
        """Return how many more events fit."""
        return self._buffer.room()

    def put_nowait(self, events: Sequence[Event]) -> None:
        """Append `events` (the caller checked `room`)."""
        self._buffer.put(events)

    async def wait_writable(self) -> None:
        """Return once there is room for at least one event."""
        await self._buffer.wait_room()

    def close(self) -> None:
        """Mark the end of the stream; the iterator ends after draining."""
        self._buffer.close()

    async def batches(self, max_records: int, timeout_ms: int) -> AsyncIterator[list[Event]]:
        """Yield micro-batches; see `monitor.bus.base.Subscription.batches`."""
        buffer = self._buffer
        while True:
            batch = await buffer.take(max_records, timeout_ms / 1000)
            if batch or not buffer.closed:
                yield batch  # [] after timeout_ms without events
            elif not buffer:
                return


class MemoryBus:
    """The embedded default bus (no broker). Create it inside the running event loop."""

    def __init__(self, capacity: int = 200_000, on_drop: DropCallback | None = None) -> None:
        """Create a bus whose subscriptions each hold at most `capacity` events."""
        self.capacity = capacity
        self._subs: list[MemorySubscription] = []
        self._on_drop = on_drop or _ignore_drop
        self._closed = False

    def subscribe(self, topics: Sequence[str], name: str) -> MemorySubscription:
        """Return a new subscription to `topics` (it sees only events published later)."""
        sub = MemorySubscription(topics, name, self.capacity)
        self._subs.append(sub)
        return sub

    async def publish(self, events: Sequence[Event], *, timeout_s: float | None) -> int:
        """Fan `events` out to every subscription of their topic.

        Returns the number of events accepted: all of them, less the largest number any one
        subscription had to drop.

        Raises:
            RuntimeError: when the bus has been closed.
        """
        if self._closed:
            msg = "publish on a closed bus"
            raise RuntimeError(msg)
        shortfall = 0
        present = {TOPIC_OF_TYPE[t] for t in {type(e) for e in events}}
        for sub in self._subs:
            if present <= sub.topics:
                mine = list(events)
            else:
                mine = [e for e in events if topic_of(e) in sub.topics]
            if mine:
                shortfall = max(shortfall, len(mine) - await self._deliver(sub, mine, timeout_s))
        return len(events) - shortfall

    async def _deliver(
        self, sub: MemorySubscription, events: list[Event], timeout_s: float | None
    ) -> int:
        done = 0
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while done < len(events):
            room = sub.room()
            if room > 0:
                chunk = events[done : done + room]
                sub.put_nowait(chunk)
                done += len(chunk)
                continue
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    await sub.wait_writable()
            except TimeoutError:
                break
        if done < len(events):
            self._on_drop("queue_full", len(events) - done)
        return done

    def depth(self) -> int:
        """Return the depth of the fullest subscription queue, in events."""
        return max((len(s) for s in self._subs), default=0)

    async def close(self) -> None:
        """Close every subscription; consumers finish what is queued, then stop."""
        self._closed = True
        for sub in self._subs:
            sub.close()
