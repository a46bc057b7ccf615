"""Ground-truth labels of a rendered scenario."""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from monitor.evaluation.labels import Label
from monitor.events import NS
from monitor.simulate.hawkes import F64
from monitor.simulate.model import DAY_S, S_REF, Cluster, World, calm_background

END_SHARE: Final = 0.95  # a label ends when this share of its cluster's USD has arrived
ONSET_REF_DAYS: Final = 7  # calm days simulated to set an asset's 1-in-1-day minute level


class Onsets:
    """Observable onsets of labelled clusters.

    A cluster's onset is the start of the first UTC minute, from the minute its exogenous
    ramp starts, in which the asset's liquidations (calm background plus every cluster of
    the asset) exceed the asset's 1-in-1-day calm level: the (1 − 1/1440) quantile of
    per-minute USD over `ONSET_REF_DAYS` days of its simulated calm background (its own
    random stream). The ramp start itself is unobservable: the immigrant density is 0
    there, so a first minute holds ~1 % of the ramp.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._minutes: dict[str, tuple[int, F64, float]] = {}

    def _of(self, asset: str) -> tuple[int, F64, float]:
        if asset not in self._minutes:
            world = self.world
            index = next(i for i, s in enumerate(world.assets) if s.asset == asset)
            spec = world.assets[index]
            ref = World(
                world.name, world.seed, 0, ONSET_REF_DAYS * DAY_S, world.tick_s,
                world.assets, world.classes,
            )  # fmt: skip
            rt, rm = calm_background(ref, index, spec, S_REF)
            ref_min = np.bincount(
                (rt // 60).astype(np.int64), weights=rm, minlength=ONSET_REF_DAYS * 1440
            )
            level = float(np.quantile(ref_min, 1.0 - 1.0 / 1440.0))
            parts_t, parts_m = [], []
            if world.calm:
                t, m = calm_background(world, index, spec)
                parts_t.append(t)
                parts_m.append(m)
            for c in world.clusters:
                if c.asset == asset:
                    parts_t.append(c.times_s)
                    parts_m.append(c.usd)
            t, m = np.concatenate(parts_t), np.concatenate(parts_m)
            keep = (t >= 0.0) & (t < world.duration_s)
            start_s = world.start_ns // NS
            minutes = (start_s + np.floor(t[keep]).astype(np.int64)) // 60
            first = int(minutes.min()) if minutes.size else start_s // 60
            sums = np.bincount(minutes - first, weights=m[keep]).astype(np.float64)
            self._minutes[asset] = (first, sums, level)
        return self._minutes[asset]

    def onset_s(self, c: Cluster) -> float:
        """Return the cluster's observable onset, seconds after the world start."""
        first, sums, level = self._of(c.asset)
        start_s = self.world.start_ns // NS
        from_min = (start_s + math.floor(c.onset_s)) // 60 - first
        over = np.flatnonzero(sums[max(from_min, 0) :] > level)
        if over.size == 0:
            return c.onset_s
        return float((first + max(from_min, 0) + int(over[0])) * 60 - start_s)


def label_of(world: World, c: Cluster, onset_s: float) -> Label:
    """Return the label of cluster `c`: onset (at most its peak minute), peak minute, end."""
    inside = c.times_s < world.duration_s
    times, usd = c.times_s[inside], c.usd[inside]
    start_s = world.start_ns // NS
    minutes = (start_s + np.floor(times).astype(np.int64)) // 60
    first = int(minutes[0])
    sums = np.bincount(minutes - first, weights=usd)
    peak_ns = (first + int(np.argmax(sums))) * 60 * NS
    cum = np.cumsum(usd)
    end_s = start_s + float(times[int(np.searchsorted(cum, END_SHARE * cum[-1]))])
    end_ns = max(math.ceil(end_s / 60.0) * 60 * NS, peak_ns + 60 * NS)
    return Label(
        name=c.label or c.asset,
        scope=c.asset,
        onset_ns=min(world.start_ns + round(onset_s * NS), peak_ns),
        peak_ns=peak_ns,
        end_ns=end_ns,
    )
