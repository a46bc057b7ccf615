"""Self-excitation: a Hawkes-style intensity ratio per scope.

The current liquidation intensity is estimated with an exponential kernel of time
constant τ: E(t) = Σ_i e^{−(t − t_i)/τ} over the scope's liquidations, λ̂ = E/τ (events
per second), updated in O(scopes) per closed second. The baseline (exogenous) rate μ̂ is
an EWMA of the per-minute count (half-life in minutes, frozen while the scope's alert is
open, floored at ``min_rate_per_min``). The features are R = λ̂/μ̂ (how many times the
baseline rate we are running) and the excited share 1 − μ̂/λ̂ (the endogenous
share E/λ when λ = μ + E).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from monitor.aggregate.windows.scopes import grown

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class ExcitationRate:
    """Decayed event counts and baseline rates per scope id.

    Args:
        tau_s: kernel time constant τ, seconds.
        half_life_min: half-life of the baseline rate's EWMA, minutes.
        min_rate_per_min: floor of the baseline rate (the prior for a young scope), events
            per minute.
    """

    def __init__(self, tau_s: float, half_life_min: float, min_rate_per_min: float) -> None:
        self.tau_s = tau_s
        self.alpha = 1.0 - 2.0 ** (-1.0 / half_life_min)
        self.min_rate = min_rate_per_min / 60.0
        self.excitation: F64 = np.zeros(0)
        self.rate: F64 = np.zeros(0)  # baseline events per second
        self.minutes: F64 = np.zeros(0)
        self.second: int | None = None  # E is current as of the end of this second

    def ensure(self, size: int) -> None:
        """Make room for ids below `size`."""
        self.excitation = grown(self.excitation, size)
        self.rate = grown(self.rate, size)
        self.minutes = grown(self.minutes, size)

    def add(self, second: int, ids: I64, counts: F64) -> None:
        """Decay E to the end of `second` (epoch s) and add that second's event `counts`."""
        self._decay_to(second)
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        np.add.at(self.excitation, ids, counts)

    def _decay_to(self, second: int) -> None:
        if self.second is not None and second > self.second:
            self.excitation *= math.exp(-(second - self.second) / self.tau_s)
        if self.second is None or second > self.second:
            self.second = second

    def update_baseline(self, counts: F64, frozen: B | None = None) -> None:
        """Fold one closed minute's event `counts` (one per id, from id 0) into μ̂."""
        n = counts.size
        self.ensure(n)
        live = np.ones(n, dtype=bool) if frozen is None else ~frozen[:n]
        alpha = np.maximum(self.alpha, 1.0 / (self.minutes[:n][live] + 1.0))
        rate = self.rate[:n][live]
        self.rate[:n][live] = rate + alpha * (counts[live] / 60.0 - rate)
        self.minutes[:n][live] += 1

    def intensity(self, ids: I64, second: int) -> F64:
        """Return λ̂ (events per second) of `ids` at the end of `second`."""
        self._decay_to(second)
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        return self.excitation[ids] / self.tau_s

    def baseline(self, ids: I64) -> F64:
        """Return μ̂ (events per second, floored) of `ids`."""
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        return np.maximum(self.rate[ids], self.min_rate)
