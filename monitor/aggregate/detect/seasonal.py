"""Hour-of-week baselines of per-minute liquidation USD, blended with a global baseline.

Liquidations are seasonal (hour of day, weekends). Each scope keeps,
besides its global EWMA baseline of x = log(1 + USD/ref) (`EwmaBaseline`), one EWMA mean
and variance per hour-of-week bucket (168 buckets, Monday 00:00 UTC = bucket 0). The
baseline used for z is the blend

    w = c / (c + prior_min),   m = w·m_bucket + (1 − w)·m_global,   v likewise,

with c the minutes the bucket has seen: the global baseline is the bucket's prior until
the bucket has data of its own. Updates are clipped at m + 4·sd (robust to one extreme
minute) and skipped for frozen scopes (an open alert). `update` is called once per closed
minute, `z` at every evaluation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.aggregate.detect.baseline import EwmaBaseline, ewma_step
from monitor.aggregate.windows.scopes import grown

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
HOURS_PER_WEEK = 168


def hour_of_week(minute: int) -> int:
    """Return the hour-of-week bucket (0 = Monday 00:00–01:00 UTC) of an epoch minute."""
    hour = minute // 60
    return ((hour // 24 + 3) % 7) * 24 + hour % 24  # 1970-01-01 was a Thursday


class SeasonalBaseline:
    """Global + hour-of-week EWMA baselines per scope id.

    Args:
        half_life_min: global baseline half-life, minutes.
        bucket_half_life_min: half-life of a bucket's EWMA in minutes *of that bucket*
            (240 = four weeks of one hour-of-week).
        prior_min: minutes of data after which a bucket weighs as much as the global prior.
        ref: USD scale of the log transform.
        min_sd: floor of the sd, log units.
    """

    def __init__(
        self,
        half_life_min: float,
        bucket_half_life_min: float,
        prior_min: float,
        ref: float,
        min_sd: float,
    ) -> None:
        self.glob = EwmaBaseline(half_life_min, ref, min_sd)
        self.alpha = 1.0 - 2.0 ** (-1.0 / bucket_half_life_min)
        self.prior_min = prior_min
        self.mean: F64 = np.zeros((0, HOURS_PER_WEEK))
        self.var: F64 = np.zeros((0, HOURS_PER_WEEK))
        self.count: F64 = np.zeros((0, HOURS_PER_WEEK))

    @property
    def periods(self) -> F64:
        """Return the minutes each scope's global baseline has folded in."""
        return self.glob.periods

    def ensure(self, size: int) -> None:
        """Make room for ids below `size`."""
        self.glob.ensure(size)
        self.mean = grown(self.mean, size)
        self.var = grown(self.var, size)
        self.count = grown(self.count, size)

    def update(self, values: F64, how: int, frozen: B | None = None) -> None:
        """Fold one minute's USD `values` (one per id, from id 0) of bucket `how`."""
        n = values.size
        self.ensure(n)
        live = np.ones(n, dtype=bool) if frozen is None else ~frozen[:n]
        ids = np.flatnonzero(live)
        # the bucket starts from the global baseline (its prior), not from zero
        fresh = ids[self.count[ids, how] == 0]
        self.mean[fresh, how] = self.glob.mean[fresh]
        self.var[fresh, how] = self.glob.var[fresh]
        x = self.glob.transform(values[ids])
        alpha = np.maximum(self.alpha, 1.0 / (self.count[ids, how] + 1.0))
        m, v = ewma_step(self.mean[ids, how], self.var[ids, how], x, alpha, self.glob.min_sd)
        self.mean[ids, how] = m
        self.var[ids, how] = v
        self.count[ids, how] += 1
        self.glob.update(values, frozen)

    def mean_sd(self, ids: I64, how: int) -> tuple[F64, F64]:
        """Return the blended mean and sd (log units, sd floored) of `ids` in bucket `how`."""
        self.ensure(int(ids.max()) + 1 if ids.size else 0)
        c = self.count[ids, how]
        w = c / (c + self.prior_min)
        m = w * self.mean[ids, how] + (1.0 - w) * self.glob.mean[ids]
        v = w * self.var[ids, how] + (1.0 - w) * self.glob.var[ids]
        return m, np.maximum(np.sqrt(v), self.glob.min_sd)

    def z(self, ids: I64, values: F64, how: int) -> F64:
        """Return the z of USD `values` of `ids` against the blended baseline of `how`."""
        m, sd = self.mean_sd(ids, how)
        return (self.glob.transform(values) - m) / sd

    def level_of(self, ids: I64, how: int) -> F64:
        """Return the blended baseline in USD per minute (ref · (e^m − 1)) of `ids`."""
        m, _ = self.mean_sd(ids, how)
        return self.glob.ref * np.expm1(m)
