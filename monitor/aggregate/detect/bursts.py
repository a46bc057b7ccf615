"""The liquidation-burst detector's state: baselines, CUSUM, intensity and floors per scope.

Owned by the `Engine`, which calls `ensure` when scopes appear, `roll_minutes` and `add`
as seconds close, and `signals` at every evaluation. Scopes with an open alert keep their
baselines frozen (the alert book says which).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from monitor.aggregate.detect.burst_tail import MINUTES_PER_DAY, TailEstimator, budget_rate
from monitor.aggregate.detect.cusum import cusum_repeat, cusum_step
from monitor.aggregate.detect.detectors import BurstCandidates, Signal, detect_bursts, rarity
from monitor.aggregate.detect.intensity import ExcitationRate
from monitor.aggregate.detect.seasonal import SeasonalBaseline, hour_of_week
from monitor.aggregate.windows.scopes import Level, ScopeIndex, grown
from monitor.aggregate.windows.sliding import (
    LONG_N,
    LONG_USD,
    SHORT_N,
    SHORT_USD,
    LiquidationWindows,
)
from monitor.alerts.lifecycle import AlertBook
from monitor.config import Settings

_MAX_ZERO_MINUTES: Final = 7 * 24 * 60  # a longer gap is folded in as one week of zeros


class BurstState:
    """Per-scope state of the burst rule over the engine's windows."""

    def __init__(
        self, settings: Settings, scopes: ScopeIndex, liq: LiquidationWindows, book: AlertBook
    ) -> None:
        self.settings, self.scopes, self.liq, self.book = settings, scopes, liq, book
        burst = settings.detect.burst
        self._burst_w = liq.window_index(burst.window_s)
        self.baseline = SeasonalBaseline(
            burst.baseline_half_life_min,
            burst.seasonal_half_life_min,
            burst.seasonal_prior_min,
            burst.ref_usd,
            burst.min_sd,
        )
        self.intensity = ExcitationRate(
            burst.intensity_tau_s, burst.baseline_half_life_min, burst.min_rate_per_min
        )
        self.tail = TailEstimator(
            burst.tail_u,
            burst.tail_half_life_days * MINUTES_PER_DAY,
            burst.tail_prior_p_u,
            burst.tail_prior_sigma,
            burst.tail_prior_days * MINUTES_PER_DAY,
        )
        self._cusum: npt.NDArray[np.float64] = np.zeros(0)  # per-minute CUSUM S per scope
        self._was_open: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        # scopes whose first liquidation second has closed: only they learn baselines, so a
        # scope's history starts with its data, not when a batch happened to name it
        self._born: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._minute_n: npt.NDArray[np.float64] = np.zeros(0)
        self._minute_acc: npt.NDArray[np.float64] = np.zeros(0)
        self._minute: int | None = None
        self._floors: npt.NDArray[np.float64] = np.zeros(0)
        self._n_floors = 0  # scopes whose floor is set (`_floors` has spare capacity)
        # quiet(minute, n): scopes whose market is closed or reopening (`SessionGuard`)
        self.quiet: Callable[[int, int], npt.NDArray[np.bool_]] | None = None

    def ensure(self) -> None:
        """Grow the per-scope state to every scope the index knows (new ones get floors)."""
        n = len(self.scopes)
        old = self._n_floors
        self._minute_acc = grown(self._minute_acc, n)
        self._minute_n = grown(self._minute_n, n)
        self._cusum = grown(self._cusum, n)
        if self._born.shape[0] < n:
            self._born = np.concatenate([self._born, np.zeros(n - self._born.shape[0], bool)])
        if self._was_open.shape[0] < n:
            self._was_open = np.concatenate(
                [
                    self._was_open,
                    np.zeros(self._minute_acc.shape[0] - self._was_open.shape[0], bool),
                ]
            )
        self.baseline.ensure(n)
        self.intensity.ensure(n)
        self.tail.ensure(n)
        if n <= old:
            return
        self._floors = grown(self._floors, n, math.inf)
        for sid in range(old, n):
            self._floors[sid] = self._floor_of(self.scopes.levels[sid], self.scopes.keys[sid])
        self._n_floors = n

    def add(self, second: int, sids: npt.NDArray[np.int64], vals: npt.NDArray[np.float64]) -> None:
        """Take the closed `second`'s bucket sums (rows of `sids`, columns as the windows)."""
        self._minute_acc[sids] += vals[:, LONG_USD] + vals[:, SHORT_USD]
        self._minute_n[sids] += vals[:, LONG_N] + vals[:, SHORT_N]
        self._born[sids] = True
        self.intensity.add(second, sids, vals[:, LONG_N] + vals[:, SHORT_N])

    def roll_minutes(self, second: int) -> None:
        """Fold every minute closed before `second` into the burst baselines and CUSUM.

        Called at each evaluated second. The closing minute's USD updates the CUSUM (its
        z against the hour-of-week baseline, before the baseline learns it), then the
        baselines and the baseline event rate; minutes without data are folded in as zeros
        (at most one week of them). Scopes with an open alert keep their baselines frozen;
        a scope whose alert resolved since the last roll restarts its CUSUM at 0. Scopes
        whose first data has not closed yet are left alone: the engine may already know them
        (bucketed from a later part of the batch), and whether it does depends on batch
        boundaries, which must not change any result.
        """
        minute = second // 60
        if self._minute is None:
            self._minute = minute
        if minute <= self._minute:
            return
        n = len(self.scopes)
        self.ensure()
        frozen = self._open_mask(n)
        cfg = self.settings.detect.burst
        self._cusum[:n][self._was_open[:n] & ~frozen] = 0.0
        self._was_open[:n] = frozen
        born = self._born[:n]
        quiet = self._quiet(self._minute, n)
        skip = frozen | ~born | quiet
        ids = np.arange(n, dtype=np.int64)
        how = hour_of_week(self._minute)
        z = self.baseline.z(ids, self._minute_acc[:n], how)
        self._cusum[:n] = np.where(born & ~quiet, cusum_step(self._cusum[:n], z, cfg.cusum_k), 0.0)
        # open alerts too (the tail is the scope's whole history); closed sessions not
        self.tail.update(z, born & ~quiet)
        self.baseline.update(self._minute_acc[:n], how, skip)
        self.intensity.update_baseline(self._minute_n[:n], skip)
        zeros = np.zeros(n)
        gap = min(minute - self._minute - 1, _MAX_ZERO_MINUTES)
        if gap > 0:
            z0 = self.baseline.z(ids, zeros, hour_of_week(self._minute + 1))
            self._cusum[:n] = np.where(
                born, cusum_repeat(self._cusum[:n], z0, cfg.cusum_k, gap), 0.0
            )
            self.tail.repeat(z0, born & ~self._quiet(self._minute + 1, n), gap)  # no weekends
        for k in range(gap):
            skip_k = skip | self._quiet(self._minute + 1 + k, n)
            self.baseline.update(zeros, hour_of_week(self._minute + 1 + k), skip_k)
            self.intensity.update_baseline(zeros, skip_k)
        self._minute_acc[:] = 0.0
        self._minute_n[:] = 0.0
        self._minute = minute

    def _quiet(self, minute: int, n: int) -> npt.NDArray[np.bool_]:
        return np.zeros(n, dtype=bool) if self.quiet is None else self.quiet(minute, n)

    def _open_mask(self, n: int) -> npt.NDArray[np.bool_]:
        mask = np.zeros(n, dtype=bool)
        for scope in self.book.open_scopes():
            for level in ("asset", "class", "market"):
                sid = self.scopes.find(level, scope)
                if sid is not None and sid < n:
                    mask[sid] = True
        return mask

    def _floor_of(self, level: Level, key: str) -> float:
        cfg = self.settings.detect.burst
        if level == "asset":
            return cfg.floor_usd_by_asset.get(key, cfg.floor_usd_asset)
        if level == "class":
            return cfg.floor_usd_class
        if level == "market":
            return cfg.floor_usd_market
        return math.inf  # instruments roll up into their asset; no alert of their own

    def signals(self, second: int) -> list[Signal]:
        """Return the burst signals at the end of `second` (epoch s), every evaluation.

        Only scopes over their USD floor are looked at, so the per-scope work is
        vectorized over a handful of ids.
        """
        n = len(self.scopes)
        cfg = self.settings.detect.burst
        totals = self.liq.totals(self._burst_w)[:n]
        warm = self.baseline.periods[:n] >= cfg.warmup_min
        floors = np.where(warm, self._floors[:n], self._floors[:n] * cfg.warmup_floor_multiple)
        ids = np.flatnonzero(totals >= floors)
        if ids.size == 0:
            return []
        how = hour_of_week(second // 60)
        sums = self.liq.sums[ids, self._burst_w]
        rate = self.intensity.intensity(ids, second)
        base_rate = self.intensity.baseline(ids)
        scopes = [self.scopes.keys[i] for i in ids.tolist()]
        candidates = BurstCandidates(
            scopes=scopes,
            long_usd=sums[:, LONG_USD],
            short_usd=sums[:, SHORT_USD],
            events=sums[:, LONG_N] + sums[:, SHORT_N],
            floor_usd=floors[ids],
            warm=warm[ids],
            z=self.baseline.z(ids, totals[ids] * 60.0 / cfg.window_s, how),
            baseline_usd=self.baseline.level_of(ids, how),
            cusum=self._cusum[ids],
            ratio=rate / base_rate,
            rate_per_min=rate * 60.0,
            base_rate_per_min=base_rate * 60.0,
            window_s=cfg.window_s,
            held=np.array([self.book.is_open("cascade", scope) for scope in scopes]),
        )
        return self._within_budget(detect_bursts(candidates, cfg), ids, candidates)

    def _within_budget(
        self, signals: list[Signal], ids: npt.NDArray[np.int64], c: BurstCandidates
    ) -> list[Signal]:
        """Drop new signals under their scope's budget z; say how rare each window is.

        A signal of a warm scope whose alert is not open yet passes only if its window z
        reaches the z its scope passes once per budget (`TailEstimator.threshold`), unless
        the count test λ̂/μ̂ passed (it counts liquidations, so heavy-tailed sizes, which
        the budget is for, do not fool it); open alerts go on as before. Evidence gains
        ``budget_z`` and ``return_period_days`` (the tail model's 1-in-N-days of the
        window's z), the summary the 1-in-N.
        """
        cfg = self.settings.detect.burst
        if not signals or cfg.budget_alerts <= 0:
            return signals
        row = {scope: i for i, scope in enumerate(c.scopes)}
        rate = budget_rate(cfg.budget_alerts, cfg.budget_days)
        bar = self.tail.threshold(ids, rate)
        period_d = self.tail.return_period_min(ids, c.z) / MINUTES_PER_DAY
        out: list[Signal] = []
        for sig in signals:
            i = row[sig.scope]
            if not c.warm[i]:
                out.append(sig)
                continue
            held = c.held is not None and bool(c.held[i])
            counted = "hawkes" in list(sig.evidence.get("triggers", []))  # type: ignore[arg-type]
            if not held and not counted and c.z[i] < bar[i]:
                continue
            days = float(period_d[i])
            evidence = {
                **sig.evidence,
                "budget_z": round(float(bar[i]), 3),
                "return_period_days": round(days, 2),
            }
            words = rarity(days, sig.scope)
            summary = (
                "%s; %s)" % (sig.summary[:-1], words) if sig.summary.endswith(")") else sig.summary
            )
            out.append(dataclasses.replace(sig, evidence=evidence, summary=summary))
        return out

    def stats(self, level: Level, key: str) -> tuple[float, float, float]:
        """Return (baseline USD per minute, z, score) of one scope's burst window.

        z is the robust z of the window's USD against the scope's hour-of-week baseline
        (0 when unseen or warming up); score is the window's USD over the scope's floor.
        Called at metrics scrape time.
        """
        sid = self.scopes.find(level, key)
        if sid is None or sid >= self._n_floors or sid >= self.liq.sums.shape[0]:
            return (0.0, 0.0, 0.0)
        cfg = self.settings.detect.burst
        ids = np.array([sid], dtype=np.int64)
        total = self.liq.totals(self._burst_w)[ids]
        how = hour_of_week(self._minute if self._minute is not None else 0)
        warm = self.baseline.periods[sid] >= cfg.warmup_min
        z = float(self.baseline.z(ids, total * 60.0 / cfg.window_s, how)[0]) if warm else 0.0
        baseline = float(self.baseline.level_of(ids, how)[0])
        return (baseline, z, float(total[0]) / float(self._floors[sid]))
