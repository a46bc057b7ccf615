"""Downside correlation across asset classes, for the contagion overlay.

Each tracked asset is priced by the first instrument seen for it. At every minute boundary
its 1-minute log return joins a ring of the last ``lookback`` minutes. The downside
correlation is the Pearson correlation of those returns over the "down" minutes only (the
minutes where the mean return of the assets is negative, in the spirit of Longin & Solnik's
conditional correlation), averaged over pairs of assets of *different* classes. Its
baseline is an EWMA of the same measure, one update per minute, frozen while contagion is
open. `downside_correlation` is the pure measure over a return matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.config import ContagionSettings
from monitor.events import AssetClass

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Downside:
    """The downside correlation now and its baseline (NaN while warming up)."""

    corr: float
    baseline: float
    minutes: int  # down minutes it was computed from
    pairs: int  # cross-class asset pairs averaged

    @property
    def rise(self) -> float:
        """Return corr − baseline (NaN without a baseline)."""
        return self.corr - self.baseline


def downside_correlation(
    returns: F64, classes: Sequence[str], min_minutes: int
) -> tuple[float, int, int] | None:
    """Return (mean cross-class correlation, down minutes, pairs) or None if not computable.

    Args:
        returns: assets × minutes of 1-minute log returns; NaN where an asset had no price.
        classes: each row's asset class.
        min_minutes: down minutes needed.
    """
    complete = ~np.isnan(returns).any(axis=0)
    r = returns[:, complete]
    if r.shape[0] < 2 or r.shape[1] == 0:
        return None
    down = r[:, r.mean(axis=0) < 0]
    if down.shape[1] < min_minutes:
        return None
    centred = down - down.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=1))
    cls = np.array(classes)
    pairs = np.triu(cls[:, None] != cls[None, :], k=1) & (norm[:, None] > 0) & (norm[None, :] > 0)
    if not pairs.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred @ centred.T) / np.outer(norm, norm)
    n_pairs = int(pairs.sum())
    return (float(corr[pairs].sum()) / n_pairs, int(down.shape[1]), n_pairs)


class MinuteReturns:
    """Ring of 1-minute returns of the tracked assets, and the measure's EWMA baseline."""

    def __init__(self, cfg: ContagionSettings) -> None:
        self.cfg = cfg
        self.assets = list(dict.fromkeys(cfg.corr_assets))
        self._row = {a: i for i, a in enumerate(self.assets)}
        n, m = len(self.assets), cfg.corr_lookback_min
        self.returns: F64 = np.full((n, m), np.nan)
        self.classes: list[AssetClass | None] = [None] * n
        self.inst: list[str | None] = [None] * n  # the instrument that prices each asset
        self.last: F64 = np.full(n, np.nan)  # latest price
        self.close: F64 = np.full(n, np.nan)  # price at the previous minute boundary
        self.minute: int | None = None
        self.alpha = 1.0 - 2.0 ** (-1.0 / cfg.corr_baseline_half_life_min)
        self._ewma = 0.0
        self._periods = 0
        self.current: Downside | None = None

    def price(self, inst: str, asset: str, asset_class: AssetClass, last: float) -> None:
        """Take one closed second's last price of an instrument (ignored if untracked)."""
        row = self._row.get(asset)
        if row is None or not last > 0:
            return
        if self.inst[row] is None:
            self.inst[row], self.classes[row] = inst, asset_class
        if self.inst[row] == inst:
            self.last[row] = last

    def roll(self, second: int, *, frozen: bool) -> None:
        """At a new minute, append the returns and refresh `current` (called every step)."""
        minute = second // 60
        if self.minute is None:
            self.minute = minute
        if minute <= self.minute:
            return
        gap = minute - self.minute
        shift = min(gap, self.returns.shape[1])
        self.returns = np.roll(self.returns, -shift, axis=1)
        self.returns[:, -shift:] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            self.returns[:, -1] = np.log(self.last / self.close) / gap
        self.close = self.last.copy()
        self.minute = minute
        self._measure(frozen=frozen)

    def _measure(self, *, frozen: bool) -> None:
        rows = [i for i, c in enumerate(self.classes) if c is not None]
        found = downside_correlation(
            self.returns[rows], [str(self.classes[i]) for i in rows], self.cfg.corr_min_minutes
        )
        if found is None:
            self.current = None
            return
        corr, minutes, pairs = found
        baseline = math.nan
        if self._periods:
            baseline = self._ewma / (1.0 - (1.0 - self.alpha) ** self._periods)
        self.current = Downside(corr, baseline, minutes, pairs)
        if not frozen:
            self._ewma += self.alpha * (corr - self._ewma)
            self._periods += 1
