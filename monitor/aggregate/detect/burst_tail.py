"""Per-scope upper tail of the burst z, for thresholds set by an alert budget.

Each closed minute gives every scope a z: its log(1 + USD/ref) against its hour-of-week
baseline (`monitor.aggregate.detect.seasonal`). Liquidation USD per minute is Pareto-tailed, so
its logarithm, and z with it, has an exponential upper tail: above a level u,

    P(z > x) = p_u · exp(−(x − u) / σ),    x ≥ u,

the generalized Pareto tail with shape 0 (peaks over threshold). Per scope we keep the
exponentially weighted minutes seen, exceedances of u and the sum of their excesses
(half-life ``half_life_min``), so p_u = exceedances / minutes and σ = mean excess. Both
start from a prior worth ``prior_minutes`` minutes (p_u = ``prior_p_u``, σ =
``prior_sigma``): a new scope is judged by the prior, and by its own tail as its history
grows.

An alert budget of B alerts per D days is a per-minute rate p = B / (D · 1440); the z
that an ordinary minute of this scope passes at that rate is

    z_budget = u + σ · ln(p_u / p),

and the return period of an observed z is 1 / P(z > x) minutes. `update` is called once
per closed minute by `monitor.aggregate.detect.bursts.BurstState`, `threshold` and
`return_period_min` at evaluations. The state is `Snapshottable` (kept across restarts).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt

from monitor.aggregate.windows.scopes import grown
from monitor.state.snapshot import Snapshot, pack_array, unpack_array

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
logger = logging.getLogger(__name__)
MINUTES_PER_DAY = 1440.0


def budget_rate(alerts: float, days: float) -> float:
    """Return the per-minute rate of a budget of `alerts` per `days` days."""
    return alerts / (days * MINUTES_PER_DAY)


class TailEstimator:
    """Exponential tail of per-minute z above `u`, per scope id (EWMA counts).

    Args:
        u: the tail starts here (z units).
        half_life_min: half-life of the counts, minutes.
        prior_p_u, prior_sigma: the prior share of minutes above u and mean excess.
        prior_minutes: minutes the prior weighs.
    """

    def __init__(
        self,
        u: float,
        half_life_min: float,
        prior_p_u: float,
        prior_sigma: float,
        prior_minutes: float,
    ) -> None:
        self.u = u
        self.decay = 2.0 ** (-1.0 / half_life_min)
        self.prior_p_u, self.prior_sigma, self.prior_minutes = (
            prior_p_u,
            prior_sigma,
            prior_minutes,
        )
        self.minutes: F64 = np.zeros(0)
        self.over: F64 = np.zeros(0)
        self.excess: F64 = np.zeros(0)

    def ensure(self, size: int) -> None:
        """Make room for ids below `size`."""
        self.minutes = grown(self.minutes, size)
        self.over = grown(self.over, size)
        self.excess = grown(self.excess, size)

    def update(self, z: F64, live: B) -> None:
        """Fold one closed minute's `z` (one per id, from id 0) in where `live`."""
        n = z.size
        self.ensure(n)
        ids = np.flatnonzero(live[:n])
        x = z[ids]
        hit = x > self.u
        d = self.decay
        self.minutes[ids] = d * self.minutes[ids] + 1.0
        self.over[ids] = d * self.over[ids] + hit
        self.excess[ids] = d * self.excess[ids] + np.where(hit, x - self.u, 0.0)

    def repeat(self, z: F64, live: B, minutes: int) -> None:
        """Fold `minutes` minutes of the same `z` in (a data gap's zero minutes)."""
        if minutes <= 0:
            return
        n = z.size
        self.ensure(n)
        ids = np.flatnonzero(live[:n])
        x = z[ids]
        hit = x > self.u
        dk = self.decay**minutes
        total = (1.0 - dk) / (1.0 - self.decay)  # Σ d^i over the minutes
        self.minutes[ids] = dk * self.minutes[ids] + total
        self.over[ids] = dk * self.over[ids] + np.where(hit, total, 0.0)
        self.excess[ids] = dk * self.excess[ids] + np.where(hit, total * (x - self.u), 0.0)

    def params(self, ids: I64) -> tuple[F64, F64]:
        """Return (p_u, σ) of `ids`, each blended with its prior."""
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        pm = self.prior_minutes
        p_u = (self.over[ids] + pm * self.prior_p_u) / (self.minutes[ids] + pm)
        prior_over = pm * self.prior_p_u
        sigma = (self.excess[ids] + prior_over * self.prior_sigma) / (self.over[ids] + prior_over)
        return p_u, sigma

    def threshold(self, ids: I64, rate_per_min: float) -> F64:
        """Return the z that `ids` pass at `rate_per_min` (never below u)."""
        p_u, sigma = self.params(ids)
        return self.u + sigma * np.log(np.maximum(p_u / rate_per_min, 1.0))

    def return_period_min(self, ids: I64, z: F64) -> F64:
        """Return 1 / P(z' > z) of `ids`, minutes (the tail model; z below u: 1 / p_u)."""
        p_u, sigma = self.params(ids)
        tail = p_u * np.exp(-np.maximum(z - self.u, 0.0) / sigma)
        return 1.0 / np.maximum(tail, 1e-300)

    def snapshot(self) -> Snapshot:
        """Return the counts as plain values (called at every state save)."""
        return {
            "u": self.u,
            "minutes": pack_array(self.minutes),
            "over": pack_array(self.over),
            "excess": pack_array(self.excess),
        }

    def restore(self, state: Snapshot) -> None:
        """Load counts saved by `snapshot` (all or nothing).

        Counts saved with another tail level u do not apply: they are logged and left out
        (the tail starts again from its prior), the rest of the state is kept.

        Raises:
            ValueError: arrays that do not match.
        """
        if not math.isclose(float(state["u"]), self.u):
            logger.warning(
                "burst tail saved with u=%s, configured %s: not restored", state["u"], self.u
            )
            return
        arrays = [unpack_array(state[k]) for k in ("minutes", "over", "excess")]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
            msg = "tail arrays of different shapes"
            raise ValueError(msg)
        self.minutes, self.over, self.excess = (a.astype(np.float64) for a in arrays)
