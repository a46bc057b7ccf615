"""Reconnect delays: capped exponential backoff with full jitter (injectable policy)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Delays = Callable[[], Iterator[float]]
"""A factory of delay sequences (seconds); a fresh sequence starts after each success."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay n is uniform in [0, min(max_s, initial_s · factor^n)] ("full jitter").

    Jitter spreads reconnects of many connections (a venue restart drops them all at once);
    the cap keeps an outage from pushing delays past `max_s` seconds.
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    seed: int | None = None

    def __call__(self) -> Iterator[float]:
        """Return a new sequence of delays in seconds."""
        rng = random.Random(self.seed)
        ceiling = self.initial_s
        while True:
            yield rng.uniform(0.0, ceiling)
            ceiling = min(self.max_s, ceiling * self.factor)
