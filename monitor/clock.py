"""Clocks. Everything that needs "now" takes a `Clock`, so tests and replay drive time."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of wall time (epoch ns) and monotonic time (seconds)."""

    def wall_ns(self) -> int:
        """Return the current wall time in epoch nanoseconds."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic time in seconds, for durations only."""
        ...


class SystemClock:
    """The real clock."""

    def wall_ns(self) -> int:
        """Return `time.time_ns()`."""
        return time.time_ns()

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()


class SimClock:
    """A settable clock for replay and tests: time moves only when told to.

    Replay sets it to the event time of the newest event fed, so anything that asks for
    "now" during a replay sees the recording's time, not the machine's.
    """

    def __init__(self, now_ns: int = 0) -> None:
        self._now_ns = now_ns

    def wall_ns(self) -> int:
        """Return the simulated wall time in epoch nanoseconds."""
        return self._now_ns

    def monotonic(self) -> float:
        """Return the simulated time in seconds (monotonic as long as it only advances)."""
        return self._now_ns / 1e9

    def set_ns(self, now_ns: int) -> None:
        """Move the clock to `now_ns` if that is later than now (it never goes back)."""
        self._now_ns = max(self._now_ns, now_ns)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self._now_ns += int(seconds * 1e9)
