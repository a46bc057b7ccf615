"""An instrument's own history of price falls: hourly maxima and the Gumbel tail fitted to them.

For every crash window W the price rule computes a fall score z (the drawdown from the
window's high in units of the instrument's long-run 1-minute sd scaled to W). This module
keeps, per window, the largest z of each clock hour over the last `capacity` hours that had
prices (closed sessions add nothing), and fits a Gumbel distribution to those hourly
maxima from their median and interquartile range:

    α = IQR / 1.57253,  ξ = median − 0.36651 · α

(the Gumbel quantile is ξ − α·ln(−ln F), whose median is ξ + 0.36651 α and whose quartiles
are 1.57253 α apart). Median and IQR instead of moments or maximum likelihood: one
volatile day among 30 moves them little, and they need no iteration. The Gumbel (GEV with
shape 0) rather than a fitted GEV shape: shapes fitted to a month of hourly maxima came out
−0.15 to −0.4 (heavy), and return levels extrapolated with them missed every altcoin wave
of 2026-02-05 (docs/detection.md, "Own-history thresholds"), while the Gumbel at a 30-day
budget kept calm months quiet.

The threshold for an alert budget of one per `budget_days` is the Gumbel return level for
T = 24 · budget_days hourly blocks; the rarity of a score z is its return period
1 / (1 − F(z)) hours, reported in days. Updated once per hour per instrument (cheap: a
sort of at most `capacity` floats per window).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from statistics import quantiles

GUMBEL_IQR = math.log(math.log(4.0)) - math.log(-math.log(0.75))  # 1.57253
GUMBEL_MEDIAN = -math.log(math.log(2.0))  # 0.36651


@dataclass(frozen=True, slots=True)
class Gumbel:
    """A Gumbel fit: location `xi` and scale `alpha` (score units)."""

    xi: float
    alpha: float

    @classmethod
    def robust(cls, values: list[float]) -> Gumbel | None:
        """Fit from the median and IQR of `values`; None when the IQR is 0 (flat prices)."""
        q25, q50, q75 = quantiles(values, n=4, method="inclusive")
        if not q75 > q25:
            return None
        alpha = (q75 - q25) / GUMBEL_IQR
        return cls(q50 - GUMBEL_MEDIAN * alpha, alpha)

    def level(self, blocks: float) -> float:
        """Return the score exceeded once per `blocks` hourly blocks (the return level)."""
        return self.xi - self.alpha * math.log(-math.log(1.0 - 1.0 / blocks))

    def period(self, score: float) -> float:
        """Return the return period of `score` in blocks (hours), ≥ 1; inf when beyond floats."""
        y = (score - self.xi) / self.alpha
        if y > 700.0:  # exp(-y) underflows: rarer than anything a float can say
            return math.inf
        tail = -math.expm1(-math.exp(-y))  # 1 − F, accurate for tiny tails
        return 1.0 / tail if tail > 0.0 else math.inf


@dataclass(slots=True)
class HourlyMaxima:
    """The largest fall score of each hour, per window, over the last `capacity` hours."""

    n_windows: int
    capacity: int
    hour: int = -1
    current: list[float] = field(default_factory=list)
    blocks: deque[tuple[float, ...]] = field(default_factory=deque)
    fits: list[Gumbel | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blocks = deque(self.blocks, maxlen=self.capacity)
        self.current = self.current or [0.0] * self.n_windows
        self.fits = self.fits or [None] * self.n_windows

    def observe(self, hour: int, scores: list[float]) -> None:
        """Fold one evaluated second's scores in; `hour` is the epoch hour of that second."""
        if hour != self.hour:
            if self.hour >= 0:
                self.blocks.append(tuple(self.current))
                self.refit()
            self.hour = hour
            self.current = [0.0] * self.n_windows
        cur = self.current
        for w, z in enumerate(scores):
            cur[w] = max(cur[w], z)

    def refit(self) -> None:
        """Refit every window from the stored hours (after each new hour and on restore)."""
        enough = len(self.blocks) >= 3  # quartiles need a few values
        self.fits = [
            Gumbel.robust([b[w] for b in self.blocks]) if enough else None
            for w in range(self.n_windows)
        ]

    def fit(self, w: int, min_blocks: int) -> Gumbel | None:
        """Return window `w`'s Gumbel fit, or None before `min_blocks` hours of history."""
        return self.fits[w] if len(self.blocks) >= min_blocks else None
