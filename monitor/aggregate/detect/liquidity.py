"""Liquidity stress: quoted spreads against their own baseline.

Ticks with a bid and an ask give a spread s = (ask − bid) / mid in bps. Spreads wait in a
heap until their second closes, so the result does not depend on batch boundaries. Per
instrument the current spread is the median of its per-second spreads over the window, and
the baseline an EWMA of each minute's mean log spread (bias-corrected, frozen while the
asset is in alert). `detect_liquidity_stress` is the pure rule over one asset's numbers.
Depth is not in the event contract, so only the spread ratio is measured.

Market sessions (`monitor.sessions.guard`): a TradFi instrument keeps two baselines, one
learnt in its market's open minutes and one in its closed (``NO_TRADING``) minutes, and is
judged against the one of the minute it is in, so the wide quotes of a closed market are
neither taken for stress nor taught to the open baseline. Minutes while the market settles
after a reopening teach neither (they are judged against the open baseline).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.windows.spreads import log_spread, spread_bps
from monitor.config.signals import LiquiditySettings
from monitor.events import EvidenceValue, Severity, Tick
from monitor.sessions.guard import Phase

PhaseOf = Callable[[str, str, int], Phase]
"""(instrument key, asset, epoch second) → the phase of the instrument's market then."""


@dataclass(slots=True)
class InstrumentSpread:
    """Spread state of one instrument (``exchange:symbol``)."""

    key: str
    asset: str
    alpha: float  # EWMA weight per minute
    recent: deque[tuple[int, float]] = field(default_factory=deque)  # (second, bps)
    minute: int = -1
    phase: Phase = "open"  # of this minute's market; "closed" keeps a baseline of its own
    log_sum: float = 0.0  # this minute's sum of log spreads
    log_n: int = 0
    ewma: float = 0.0  # of per-minute mean log spread, started at 0 (bias-corrected on use)
    minutes: int = 0
    baseline: float = math.nan  # baseline spread, bps (see `baseline_bps`)
    closed: InstrumentSpread | None = None  # the closed-market baseline (made when needed)
    _cached: float | None = None  # cached median of `recent`; None: stale

    def update(
        self,
        second: int,
        bps: float,
        *,
        frozen: bool,
        phase: Phase = "open",
        log_sum: float | None = None,
        n: int = 1,
    ) -> None:
        """Fold closed-second quotes in (seconds must not decrease).

        `bps` is the last of the `n` spreads folded, `log_sum` the sum of their
        `log_spread` (default: that of `bps`; the Kafka cross stage folds a second's ticks).
        `phase` is that of the instrument's market in `second`'s minute (read when a new
        minute starts): the finished minute teaches the open or the closed baseline, or
        neither while settling or `frozen` (its asset in alert).
        """
        minute = second // 60
        if minute != self.minute:
            if self.log_n and not frozen and self.phase != "settling":
                learner = self if self.phase == "open" else self.closed_baseline()
                learner.learn(self.log_sum / self.log_n)
            self.minute, self.log_sum, self.log_n = minute, 0.0, 0
            self.phase = phase
        self.log_sum += log_spread(bps) if log_sum is None else log_sum
        self.log_n += n
        if self.recent and self.recent[-1][0] == second:
            self.recent[-1] = (second, bps)  # the last quote of a second stands for it
        else:
            self.recent.append((second, bps))
        self._cached = None

    def learn(self, mean_log: float) -> None:
        """Fold one minute's mean log spread into this baseline."""
        self.ewma += self.alpha * (mean_log - self.ewma)
        self.minutes += 1
        self.baseline = self.baseline_bps()

    def closed_baseline(self) -> InstrumentSpread:
        """Return the baseline of the market's closed minutes (its `baseline`, `minutes`)."""
        if self.closed is None:
            self.closed = InstrumentSpread(self.key, self.asset, self.alpha)
        return self.closed

    def judged(self) -> InstrumentSpread:
        """Return the baseline the current minute is judged against (closed or open)."""
        return self.closed_baseline() if self.phase == "closed" else self

    def baseline_bps(self) -> float:
        """Return the baseline spread in bps (geometric mean, EWMA); NaN before a minute."""
        if self.minutes == 0:
            return math.nan
        weight = 1.0 - (1.0 - self.alpha) ** self.minutes
        return math.exp(self.ewma / weight)

    def current_bps(self, second: int, window_s: int) -> float | None:
        """Return the median spread of (second − window_s, second], or None if no quote."""
        while self.recent and self.recent[0][0] <= second - window_s:
            self.recent.popleft()
            self._cached = None
        if not self.recent:
            return None
        if self._cached is None:
            self._cached = _median([bps for _, bps in self.recent])
        return self._cached


def _median(values: list[float]) -> float:
    """Return the median of a non-empty list (sorts it in place)."""
    values.sort()
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2.0


@dataclass(frozen=True, slots=True)
class AssetSpread:
    """One asset's spread numbers at one second (inputs of `detect_liquidity_stress`)."""

    asset: str
    spread_bps: float  # median current spread of its instruments
    baseline_bps: float  # median baseline of the same instruments
    ratio: float  # median of the instruments' current / baseline
    worst_instrument: str
    worst_ratio: float
    instruments: int


def detect_liquidity_stress(stats: AssetSpread, cfg: LiquiditySettings) -> Signal | None:
    """Return a ``liquidity_stress`` signal when the asset's spread ratio is high, else None.

    Hot when ratio ≥ ``ratio_warning`` and spread ≥ ``min_spread_bps``; critical when
    ratio ≥ ``ratio_critical``.
    """
    if stats.ratio < cfg.ratio_warning or stats.spread_bps < cfg.min_spread_bps:
        return None
    severity: Severity = "critical" if stats.ratio >= cfg.ratio_critical else "warning"
    evidence: dict[str, EvidenceValue] = {
        "window_s": cfg.window_s,
        "spread_bps": round(stats.spread_bps, 3),
        "baseline_spread_bps": round(stats.baseline_bps, 3),
        "spread_ratio": round(stats.ratio, 3),
        "worst_instrument": stats.worst_instrument,
        "worst_spread_ratio": round(stats.worst_ratio, 3),
        "instruments": stats.instruments,
        "depth": "not available (no depth in the event contract)",
    }
    return Signal(
        kind="liquidity_stress",
        scope=stats.asset,
        severity=severity,
        score=stats.ratio / cfg.ratio_warning,
        summary="%s: spread %.1f bps, %.1f× its baseline %.2f bps (median of %d instruments)"
        % (stats.asset, stats.spread_bps, stats.ratio, stats.baseline_bps, stats.instruments),
        evidence=evidence,
    )


class SpreadWindows:
    """Every instrument's spread state; `add` on arrival, `close` per closed second."""

    def __init__(self, cfg: LiquiditySettings, phase_of: PhaseOf | None = None) -> None:
        self.cfg = cfg
        self.phase_of = phase_of  # None: every market is always open
        self.alpha = 1.0 - 2.0 ** (-1.0 / cfg.baseline_half_life_min)
        self.instruments: dict[str, InstrumentSpread] = {}
        self.by_asset: dict[str, list[InstrumentSpread]] = {}
        # (sec, seq, key, asset, last bps, sum of log spreads, how many)
        self._pending: list[tuple[int, int, str, str, float, float, int]] = []
        self._seq = 0

    def add(self, ticks: Iterable[Tick], seconds: Iterable[int]) -> None:
        """Queue the spreads of ticks until their second closes (engine feed path).

        `seconds` are the ticks' seconds (epoch s): their event time's, or for a late tick
        the first open second.
        """
        for tick, second in zip(ticks, seconds, strict=True):
            bps = spread_bps(tick.bid, tick.ask)
            if bps is None:
                continue
            key = "%s:%s" % (tick.exchange, tick.symbol)
            self._seq += 1
            item = (second, self._seq, key, tick.asset, bps, log_spread(bps), 1)
            heapq.heappush(self._pending, item)

    def add_folded(self, rows: Iterable[tuple[int, str, str, float, float, int]]) -> None:
        """Queue spreads folded per second and instrument (the Kafka cross stage).

        Rows are ``(second, "exchange:symbol", asset, last bps, sum of log spreads, n)``,
        as stage 1 folds a second's ticks (`monitor.aggregate.windows.partial`): the same as `add`
        with those ticks.
        """
        for second, key, asset, last, log_sum, n in rows:
            self._seq += 1
            heapq.heappush(self._pending, (second, self._seq, key, asset, last, log_sum, n))

    def due(self, second: int) -> bool:
        """Return True if a queued spread belongs to a second ≤ `second`."""
        return bool(self._pending) and self._pending[0][0] <= second

    def close(self, second: int, frozen: set[str]) -> set[str]:
        """Fold every queued spread of a second ≤ `second`; return the assets touched.

        `frozen` holds the scopes in alert: their instruments' baselines do not move.
        """
        touched: set[str] = set()
        pending = self._pending
        while pending and pending[0][0] <= second:
            sec, _, key, asset, bps, log_sum, n = heapq.heappop(pending)
            state = self.instruments.get(key)
            if state is None:
                state = InstrumentSpread(key, asset, self.alpha)
                self.instruments[key] = state
                self.by_asset.setdefault(asset, []).append(state)
            phase: Phase = "open"
            if self.phase_of is not None and sec // 60 != state.minute:
                phase = self.phase_of(key, asset, sec)  # once per instrument and minute
            state.update(sec, bps, frozen=asset in frozen, phase=phase, log_sum=log_sum, n=n)
            touched.add(asset)
        return touched

    def asset_spread(self, asset: str, second: int, at_least: float = 0.0) -> AssetSpread | None:
        """Return the asset's numbers from its fresh, warmed-up instruments, or None.

        None too when no instrument's ratio reaches `at_least` (then neither can the
        median: the per-second evaluation skips the calm assets cheaply).
        """
        rows: list[tuple[float, float, float, str]] = []  # (ratio, current, baseline, key)
        for state in self.by_asset.get(asset, ()):
            judged = state.judged()
            if judged.minutes < max(self.cfg.warmup_min, 1):
                continue
            current = state.current_bps(second, self.cfg.window_s)
            if current is None:
                continue
            baseline = judged.baseline
            rows.append((current / max(baseline, 1e-6), current, baseline, state.key))
        if not rows:
            return None
        worst = max(rows)
        if worst[0] < at_least:
            return None
        return AssetSpread(
            asset=asset,
            spread_bps=_median([r[1] for r in rows]),
            baseline_bps=_median([r[2] for r in rows]),
            ratio=_median([r[0] for r in rows]),
            worst_instrument=worst[3],
            worst_ratio=worst[0],
            instruments=len(rows),
        )
