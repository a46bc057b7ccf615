"""Bounds every event must keep before it reaches the windows: the one rule, three doors.

A venue (or a file, or a producer on the topics) can send a time in the year 2100, a
liquidation of $1.7e308 or a bid above its ask. Such an event would end the run (an int64
overflow), blind it (a far-future time moves the watermark past every later event) or
poison it (an infinite window sum). `Bounds.check` keeps the events that are

- **on time**: event time within ``max_clock_skew_s`` of the receive time;
- **finite and sane**: price, quantity and notional finite, positive and under caps that
  no real instrument reaches; open interest and funding finite; bid ≤ ask;

and returns the others with the reason, for the caller to count and skip. Called where
events enter: the venue runner (live and raw replay), the replay readers, and the Kafka
stages when they decode the input topics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from monitor.bus.base import Publish
from monitor.events import NS, Event, Liquidation, Tick

Reason = Literal["time", "price", "size", "book"]
REASONS: Final[tuple[Reason, ...]] = ("time", "price", "size", "book")
MAX_PRICE: Final = 1e9  # quote currency per unit; BTC is ~1e5
MAX_NOTIONAL_USD: Final = 1e10  # one liquidation; the largest on record are ~1e8
MAX_OPEN_INTEREST_USD: Final = 1e13
MAX_FUNDING: Final = 1.0  # per funding interval, as a fraction
Rejected = tuple[Liquidation | Tick, Reason]


@dataclass(frozen=True, slots=True)
class Bounds:
    """The limits; `max_clock_skew_s` is ``sources.max_clock_skew_s``."""

    max_clock_skew_s: float = 300.0

    def reason(self, event: Event) -> Reason | None:
        """Return why `event` is out of bounds, or None when it is fine."""
        if isinstance(event, Liquidation):
            if abs(event.ts_event_ns - event.ts_recv_ns) > self.max_clock_skew_s * NS:
                return "time"
            if not _positive(event.price, MAX_PRICE):
                return "price"
            if not (
                _positive(event.qty, math.inf) and _positive(event.notional_usd, MAX_NOTIONAL_USD)
            ):
                return "size"
            return None
        if isinstance(event, Tick):
            return self._tick(event)
        return None

    def _tick(self, tick: Tick) -> Reason | None:
        if abs(tick.ts_event_ns - tick.ts_recv_ns) > self.max_clock_skew_s * NS:
            return "time"
        rate = tick.funding_rate
        funding_ok = rate is None or (math.isfinite(rate) and abs(rate) <= MAX_FUNDING)
        if not (_positive(tick.price, MAX_PRICE) and funding_ok):
            return "price"
        if not _book_ok(tick.bid, tick.ask):
            return "book"
        oi = tick.open_interest_usd
        if oi is not None and not (math.isfinite(oi) and 0 <= oi <= MAX_OPEN_INTEREST_USD):
            return "size"
        return None

    def check(self, events: Sequence[Event]) -> tuple[list[Event], list[Rejected]]:
        """Return (the events in bounds, in order; the others with their reason)."""
        kept: list[Event] = []
        rejected: list[Rejected] = []
        for event in events:
            why = self.reason(event) if isinstance(event, Liquidation | Tick) else None
            if why is None:
                kept.append(event)
            else:
                rejected.append((event, why))  # type: ignore[arg-type]  # narrowed above
        return kept, rejected


def _positive(value: float, cap: float) -> bool:
    return math.isfinite(value) and 0 < value <= cap


def _book_ok(bid: float | None, ask: float | None) -> bool:
    """Return True when each side given is a sane price and the bid is not above the ask."""
    if bid is not None and not _positive(bid, MAX_PRICE):
        return False
    if ask is not None and not _positive(ask, MAX_PRICE):
        return False
    return bid is None or ask is None or bid <= ask


OnReject = Callable[[Sequence[Rejected]], None]


def bounded(publish: Publish, bounds: Bounds, on_reject: OnReject) -> Publish:
    """Return `publish` that first drops (and reports) the events out of `bounds`.

    The count it returns includes the rejected events: they were taken, not refused for
    lack of room (a caller counts the difference as dropped for ``queue_full``).
    """

    async def checked(events: Sequence[Event]) -> int:
        kept, rejected = bounds.check(events)
        if not rejected:
            return await publish(events)
        on_reject(rejected)
        return (await publish(kept) if kept else 0) + len(rejected)

    return checked
