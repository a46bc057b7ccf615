"""Per-instrument price windows: rolling highs, the last price, volatility and fall history.

Each instrument keeps, for every crash window W, a monotonic deque of (second, high) so the
highest price of (s − W, s] is read in O(1) (amortized O(1) per update). Two volatility
estimates, both from squared 1-minute log returns, updated when a new minute's first price
arrives and frozen while the instrument's asset is in alert:

- the short one, an EWMA (`var_1m`, half-life ``baseline_half_life_min``), used by the
  absolute test of the crash rule;
- the long-run one, the median over the last `vol_hours` hours of each hour's mean squared
  return (`hour_var`): a volatile day is one value in 14 × 24 and barely moves it. Used by
  the fall scores and, through `tails.HourlyMaxima`, by the own-history test.

After every update the fall score of each window, z = (1 − last / high) / (sd · √(W/60)),
goes into the hourly maxima (`falls`), so the instrument learns its own tail even while no
detector looks at it (and during a warm start from klines).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from statistics import median

from monitor.aggregate.detect.crash_tail import HourlyMaxima
from monitor.events import AssetClass

MIN_VOL_HOURS = 6  # hours of returns before the long-run sd replaces the EWMA one


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
    vol_hours: int = 336  # hours of hourly variances kept for the long-run sd
    tail_hours: int = 720  # hours of hourly fall maxima kept for the tail fit
    prior_sd_1m: float = 0.003  # 1-minute sd before any history
    warmup_min: int = 120  # minutes of EWMA before it replaces the prior
    hour_var: deque[float] = field(default_factory=deque)  # mean r² of each past hour
    hour: int = -1  # epoch hour being summed
    hour_sum: float = 0.0
    hour_n: int = 0
    long_var: float = math.nan  # median of hour_var, refreshed when an hour is added
    falls: HourlyMaxima = field(init=False)

    def __post_init__(self) -> None:
        self.highs = [deque() for _ in self.windows_s]
        self.hour_var = deque(self.hour_var, maxlen=self.vol_hours)
        self.falls = HourlyMaxima(len(self.windows_s), self.tail_hours)

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
        self.falls.observe(second // 3600, self.fall_scores(second))

    def fall_scores(self, second: int) -> list[float]:
        """Return each window's fall score at `second` (≥ 0; 0 at or above the high)."""
        sd = self.sd_long()
        scores = []
        for w, window_s in enumerate(self.windows_s):
            high = self.window_high(w, second)
            fall = 1.0 - self.last / high if high > 0 else 0.0
            scores.append(max(fall, 0.0) / max(sd * math.sqrt(window_s / 60.0), 1e-12))
        return scores

    def _roll_minute(self, minute: int, *, frozen: bool) -> None:
        if not math.isnan(self.ref_close) and self.ref_close > 0 and not frozen:
            elapsed = max(1, minute - self.ref_minute)
            r2 = math.log(self.last / self.ref_close) ** 2 / elapsed
            self.var_1m = (1.0 - self.alpha) * self.var_1m + self.alpha * r2
            self.minutes += 1
            self._fold_hour(minute // 60, r2)
        self.ref_close = self.last
        self.ref_minute = minute

    def _fold_hour(self, hour: int, r2: float) -> None:
        if hour != self.hour:
            if self.hour_n:
                self.hour_var.append(self.hour_sum / self.hour_n)
                self.long_var = median(self.hour_var)
            self.hour, self.hour_sum, self.hour_n = hour, 0.0, 0
        self.hour_sum += r2
        self.hour_n += 1

    def sd_long(self) -> float:
        """Return the long-run 1-minute sd: √ median of the hourly variances kept.

        Before `MIN_VOL_HOURS` hours it is the EWMA sd (itself the prior during warm-up).
        """
        if len(self.hour_var) < MIN_VOL_HOURS or not self.long_var > 0:
            return self.sd_1m(self.prior_sd_1m, self.warmup_min)
        return math.sqrt(self.long_var)

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

    def __init__(
        self,
        windows_s: tuple[int, ...],
        half_life_min: float,
        *,
        vol_hours: int = 336,
        tail_hours: int = 720,
        prior_sd_1m: float = 0.003,
        warmup_min: int = 120,
    ) -> None:
        self.windows_s = windows_s
        self.alpha = 1.0 - 2.0 ** (-1.0 / half_life_min)
        self.history = {
            "vol_hours": vol_hours,
            "tail_hours": tail_hours,
            "prior_sd_1m": prior_sd_1m,
            "warmup_min": warmup_min,
        }
        self.instruments: dict[str, InstrumentPrices] = {}

    def get(self, key: str, asset: str, asset_class: AssetClass) -> InstrumentPrices:
        """Return the state of instrument `key`, creating it on first sight."""
        found = self.instruments.get(key)
        if found is None:
            found = InstrumentPrices(
                key, asset, asset_class, self.windows_s, self.alpha,
                vol_hours=int(self.history["vol_hours"]),
                tail_hours=int(self.history["tail_hours"]),
                prior_sd_1m=float(self.history["prior_sd_1m"]),
                warmup_min=int(self.history["warmup_min"]),
            )  # fmt: skip
            self.instruments[key] = found
        return found
