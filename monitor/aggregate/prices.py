"""Per-instrument price windows: rolling highs, the last price, and 1-minute volatility.

Each instrument keeps, for every crash window W, a monotonic deque of (second, high) so the
highest price of (s − W, s] is read in O(1) (amortized O(1) per update). Volatility is an
EWMA of squared 1-minute log returns, updated when a new minute's first price arrives, and
frozen while the instrument's asset is in alert.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from monitor.events import AssetClass


@dataclass(slots=True)
class InstrumentPrices:
    """Price state of one instrument (``exchange:symbol``)."""

    key: str
    asset: str
    asset_class: AssetClass
    windows_s: tuple[int, ...]
    alpha: float  # EWMA weight per minute
    last: float = math.nan
    second: int = -1
    highs: list[deque[tuple[int, float]]] = field(default_factory=list)
    ref_close: float = math.nan  # close of the last rolled minute
    ref_minute: int = -1
    var_1m: float = 0.0  # EWMA variance of 1-minute log returns
    minutes: int = 0  # minutes folded into var_1m

    def __post_init__(self) -> None:
        self.highs = [deque() for _ in self.windows_s]

    def update(self, second: int, high: float, last: float, *, frozen: bool) -> None:
        """Fold one closed second's prices in; seconds must increase."""
        minute = second // 60
        if minute != self.ref_minute and not math.isnan(self.last):
            self._roll_minute(minute, frozen=frozen)
        elif self.ref_minute < 0:
            self.ref_minute = minute
        for dq in self.highs:
            while dq and dq[-1][1] <= high:
                dq.pop()
            dq.append((second, high))
        self.last = last
        self.second = second

    def _roll_minute(self, minute: int, *, frozen: bool) -> None:
        if not math.isnan(self.ref_close) and self.ref_close > 0 and not frozen:
            elapsed = max(1, minute - self.ref_minute)
            r2 = math.log(self.last / self.ref_close) ** 2 / elapsed
            self.var_1m = (1.0 - self.alpha) * self.var_1m + self.alpha * r2
            self.minutes += 1
        self.ref_close = self.last
        self.ref_minute = minute

    def sd_1m(self, prior: float, warmup_min: int) -> float:
        """Return the 1-minute return sd: `prior` until `warmup_min` minutes are folded in.

        The EWMA starts at 0, so it is divided by its weight 1 − (1 − α)^minutes (the
        usual bias correction) before use.
        """
        if self.minutes < max(warmup_min, 1):
            return prior
        weight = 1.0 - (1.0 - self.alpha) ** self.minutes
        return math.sqrt(self.var_1m / weight)

    def window_high(self, w: int, second: int) -> float:
        """Return the highest price of (second − windows_s[w], second]."""
        dq = self.highs[w]
        horizon = second - self.windows_s[w]
        while dq and dq[0][0] <= horizon:
            dq.popleft()
        return dq[0][1] if dq else self.last


class PriceWindows:
    """All instruments' price state, created on first sight."""

    def __init__(self, windows_s: tuple[int, ...], half_life_min: float) -> None:
        self.windows_s = windows_s
        self.alpha = 1.0 - 2.0 ** (-1.0 / half_life_min)
        self.instruments: dict[str, InstrumentPrices] = {}

    def get(self, key: str, asset: str, asset_class: AssetClass) -> InstrumentPrices:
        """Return the state of instrument `key`, creating it on first sight."""
        found = self.instruments.get(key)
        if found is None:
            found = InstrumentPrices(key, asset, asset_class, self.windows_s, self.alpha)
            self.instruments[key] = found
        return found
