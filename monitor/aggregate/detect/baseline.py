"""Per-scope EWMA baselines of a log-transformed series, vectorized over scope ids.

x = log(1 + value / ref); mean m and variance v follow the usual EWMA recursions with
α = 1 − 2^(−1/half_life). Until a scope has seen 1/α periods the
step is 1/(periods + 1) instead (a running mean), so a young baseline is not biased
toward its zero start. The z of a new value uses the *previous* baseline, so a spike does
not raise its own bar. Updates are clipped at m + 4·sd (a Huber-style guard, so one
extreme minute cannot inflate the baseline), and scopes whose alert is open are frozen
(not updated) until it resolves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.aggregate.windows.scopes import grown

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
CLIP_SD = 4.0  # updates are clipped at mean + this many sd


def ewma_step(mean: F64, var: F64, x: F64, alpha: F64 | float, min_sd: float) -> tuple[F64, F64]:
    """Return the (mean, variance) after folding `x` in with step `alpha` (clipped update)."""
    sd = np.maximum(np.sqrt(var), min_sd)
    delta = np.minimum(x, mean + CLIP_SD * sd) - mean
    return mean + alpha * delta, (1.0 - alpha) * (var + alpha * delta**2)


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
        live = np.ones(n, dtype=bool) if frozen is None else ~frozen[:n]
        x = self.transform(values)[live]
        periods = self.periods[:n][live]
        alpha = np.maximum(self.alpha, 1.0 / (periods + 1.0))
        m, v = ewma_step(self.mean[:n][live], self.var[:n][live], x, alpha, self.min_sd)
        self.mean[:n][live] = m
        self.var[:n][live] = v
        self.periods[:n][live] = periods + 1

    def sd(self, ids: npt.NDArray[np.int64]) -> F64:
        """Return the baseline sd (floored at ``min_sd``) of `ids`, log units."""
        return np.maximum(np.sqrt(self.var[ids]), self.min_sd)

    def z(self, ids: npt.NDArray[np.int64], values: F64) -> F64:
        """Return the z of `values` for `ids` against the current (previous-period) baseline."""
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        return (self.transform(values) - self.mean[ids]) / self.sd(ids)

    def level_of(self, ids: npt.NDArray[np.int64]) -> F64:
        """Return the baseline in the original units (ref · (e^m − 1)) for `ids`."""
        return self.ref * np.expm1(self.mean[ids])
