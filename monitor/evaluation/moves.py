"""How far an asset's price fell: per-minute highs and lows from replayed ticks.

The calibration report (`monitor.evaluation.calibration`) asks, for a labelled crash and
for every alert outside the labels, how far the asset *moved*. That is the **fall**:

    fall(a, b) = max over minutes m in [a, b] of 1 − low(m) / max(high over [m − L, m])

the deepest drop from the highest price of the preceding L minutes (the lookback, 60 by
default, so a wave that grinds down for up to an hour is measured whole) to a low inside
[a, b]. A label's size is the fall over [onset, end]; an alert's is the fall over its
firing incident. Both use the same rule, so they compare.

Prices are the asset's first instrument seen (one venue, so highs and lows of different
venues never mix); minutes without a tick carry no price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from monitor.events import NS, Tick

MINUTE_NS: Final = 60 * NS


@dataclass
class MinutePrices:
    """One instrument's highest and lowest price per minute (epoch minutes, sparse)."""

    instrument: str
    high: dict[int, float] = field(default_factory=dict)
    low: dict[int, float] = field(default_factory=dict)

    def add(self, ts_ns: int, price: float) -> None:
        """Fold one price at event time `ts_ns` into its minute."""
        minute = ts_ns // MINUTE_NS
        hi = self.high.get(minute)
        if hi is None:
            self.high[minute] = self.low[minute] = price
        elif price > hi:
            self.high[minute] = price
        elif price < self.low[minute]:
            self.low[minute] = price

    def arrays(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return (minutes, highs, lows) sorted by minute."""
        minutes = np.array(sorted(self.high), dtype=np.int64)
        highs = np.array([self.high[m] for m in minutes.tolist()], dtype=np.float64)
        lows = np.array([self.low[m] for m in minutes.tolist()], dtype=np.float64)
        return minutes, highs, lows


class PriceBook:
    """Per-asset `MinutePrices`, fed with every tick of a replay (first instrument wins)."""

    def __init__(self) -> None:
        self.assets: dict[str, MinutePrices] = {}

    def add(self, tick: Tick) -> None:
        """Fold `tick` in if it is of its asset's reference instrument."""
        key = "%s:%s" % (tick.exchange, tick.symbol)
        prices = self.assets.get(tick.asset)
        if prices is None:
            prices = self.assets[tick.asset] = MinutePrices(key)
        if prices.instrument == key and tick.price > 0:
            prices.add(tick.ts_event_ns, tick.price)


def fall(prices: MinutePrices, start_ns: int, end_ns: int, lookback_min: int) -> float | None:
    """Return the fall over [start_ns, end_ns] (a fraction, 0.05 = 5 %), or None if no price.

    See the module docstring; the lookback's highs may lie before `start_ns`.
    """
    if lookback_min < 0:
        msg = "lookback_min must be ≥ 0"
        raise ValueError(msg)
    minutes, highs, lows = prices.arrays()
    first, last = start_ns // MINUTE_NS, end_ns // MINUTE_NS
    lo = int(np.searchsorted(minutes, first - lookback_min, side="left"))
    hi = int(np.searchsorted(minutes, last, side="right"))
    minutes, highs, lows = minutes[lo:hi], highs[lo:hi], lows[lo:hi]
    inside = np.flatnonzero(minutes >= first)
    if inside.size == 0:
        return None
    best = 0.0
    for i in inside.tolist():
        j = int(np.searchsorted(minutes, minutes[i] - lookback_min, side="left"))
        top = float(highs[j : i + 1].max())
        best = max(best, 1.0 - float(lows[i]) / top)
    return best
