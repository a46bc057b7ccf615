"""Per-scope EWMA baselines of a log-transformed series, vectorized over scope ids.

x = log(1 + value / ref); mean m and variance v follow the EWMA recursions of
DETECTION.md §2.2 with α = 1 − 2^(−1/half_life). The z of a new value uses the *previous*
baseline, so a spike does not raise its own bar. Updates are clipped at m + 4·sd (a
Huber-style guard, so one extreme minute cannot inflate the baseline), and scopes whose
alert is open are frozen (not updated) until it resolves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.aggregate.scopes import grown

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


class EwmaBaseline:
    """EWMA mean/variance per id of log(1 + value/ref); `update` once per period."""

    def __init__(self, half_life: float, ref: float, min_sd: float) -> None:
        self.alpha = 1.0 - 2.0 ** (-1.0 / half_life)
        self.ref = ref
        self.min_sd = min_sd
        self.mean: F64 = np.zeros(0)
        self.var: F64 = np.zeros(0)
        self.periods: F64 = np.zeros(0)

    def ensure(self, size: int) -> None:
        """Make room for ids below `size`."""
        self.mean = grown(self.mean, size)
        self.var = grown(self.var, size)
        self.periods = grown(self.periods, size)

    def transform(self, values: F64) -> F64:
        """Return log(1 + values/ref)."""
        return np.log1p(np.maximum(values, 0.0) / self.ref)

    def update(self, values: F64, frozen: B | None = None) -> None:
        """Fold one period's `values` (one per id, from id 0) into the baselines."""
        n = values.size
        self.ensure(n)
        x = self.transform(values)
        m, v = self.mean[:n], self.var[:n]
        sd = np.maximum(np.sqrt(v), self.min_sd)
        x = np.minimum(x, m + 4.0 * sd)
        live = np.ones(n, dtype=bool) if frozen is None else ~frozen[:n]
        delta = x - m
        a = self.alpha
        m[live] += a * delta[live]
        v[live] = (1.0 - a) * (v[live] + a * delta[live] ** 2)
        self.periods[:n][live] += 1

    def z(self, ids: npt.NDArray[np.int64], values: F64) -> F64:
        """Return the z of `values` for `ids` against the current (previous-period) baseline."""
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        sd = np.maximum(np.sqrt(self.var[ids]), self.min_sd)
        return (self.transform(values) - self.mean[ids]) / sd

    def level_of(self, ids: npt.NDArray[np.int64]) -> F64:
        """Return the baseline in the original units (ref · (e^m − 1)) for `ids`."""
        return self.ref * np.expm1(self.mean[ids])
