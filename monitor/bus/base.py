"""The bus interface every implementation (memory, Kafka) satisfies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from monitor.events import Event

Publish = Callable[[Sequence[Event]], Awaitable[int]]
"""Hands a batch of events on (to a bus, a buffer, the bounds gate) and returns how many it
took; what every source is given to publish with. The one definition of the type."""

DropCallback = Callable[[str, int], None]
"""Called as ``on_drop(reason, count)`` whenever events are dropped; ``reason`` is an enum
value of ``liqmon_events_dropped_total``."""


class Subscription(Protocol):
    """One consumer's view of some topics."""

    def batches(self, max_records: int, timeout_ms: int) -> AsyncIterator[list[Event]]:
        """Yield micro-batches of at most `max_records` events, in publish order.

        A batch is yielded as soon as events are waiting, or empty after `timeout_ms`
        without any (so the consumer can advance time while idle). The iterator ends when
        the bus is closed and everything published before has been yielded.
        """
        ...


class Bus(Protocol):
    """Publish events by topic; subscribe to topics."""

    async def publish(self, events: Sequence[Event], *, timeout_s: float | None) -> int:
        """Publish `events` in order; return how many were accepted.

        Waits up to `timeout_s` seconds for room (None: wait as long as it takes, which
        is what replay wants: no loss). Events still without room are dropped and
        counted with reason ``queue_full``. A live WebSocket reader passes a small timeout
        so it never waits long on the bus.
        """
        ...

    def subscribe(self, topics: Sequence[str], name: str) -> Subscription:
        """Return a subscription that receives every later event of `topics`."""
        ...

    def depth(self) -> int:
        """Return the number of events waiting in the fullest subscription queue."""
        ...

    async def close(self) -> None:
        """Stop accepting events; subscriptions end once drained."""
        ...
