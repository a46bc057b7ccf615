"""Deleveraging: open interest falling, with the price moving, past the scope's own history.

A forced unwind shows as open interest (OI) falling fast while the price moves against
the side being closed, whether or not the liquidation feeds print it (Binance sends at
most one liquidation per symbol per second; OKX's feed is partial). This module watches
OI per scope (an asset, summed over its venues' instruments) and says when the scope's OI
drop and price range over the window are together rarer than its budget allows.

The statistic, evaluated once per `step_s` of event time, for each window of `windows_s`
(seconds; by default one, 60 minutes): over the window, each instrument's OI drop from its
highest reading, in base units, valued at the current price, summed over the scope's
instruments and divided by the same instruments' highest OI in USD (so a price fall alone
is not an OI fall, and a venue that joins mid-window only counts from its first reading).
The score the threshold judges is, by default (``score: oi_and_price``), the geometric mean
of that OI drop and the price range over the same window (both %): a forced unwind moves
both, a calm-time OI drop (one holder closing) or a price swing with OI steady moves one.
``score: oi`` judges the OI drop alone. The threshold is the scope's own, per window: the
(1 − 1/`return_period_days`) quantile of its daily maxima of that window's score over the
last `history_days`, once it has `min_days` of them; before that, `prior_pct` for the first
window, while the others stay silent (the prior is set for the first window's score).
While the lead scope (``market``) is itself past its threshold, every other scope is judged
at the shorter `joined_return_period_days`: a fall an asset makes every two weeks is not
news alone, but while the whole market unwinds it says the asset is unwinding with it. A
scope is hot when any window passes its own threshold. A signal also needs the OI to have
fallen at least `min_drop_pct` and the price to have moved at least `min_price_move_pct`
since the OI high (in that window): price down means
longs were unwound, price up shorts.

Calibrated on Binance USDⓈ-M 5-minute OI (BTC, AVAX, Dec 2025 – Jun 2026); the figures
and the command are in docs/open-interest.md. Called by the aggregator for every tick that
carries ``open_interest_usd`` (`observe`) and once per evaluation (`evaluate`).

Market sessions: while a scope is `quiet` (its TradFi market closed or settling after a
reopening) its evaluations do not enter the daily maxima, so a closed market's flat OI is
not learnt as the norm; the aggregator also `forget`s an instrument's series while its
market settles, so the reopening's unwind does not outlast the settling time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from monitor.config.signals import DeleveragingSettings
from monitor.events import NS, Side

DAY_NS: Final = 86_400 * NS


@dataclass(frozen=True, slots=True)
class Deleveraging:
    """One scope's OI unwind at one evaluation.

    Attributes:
        scope: the asset.
        ts_ns: evaluation time, epoch ns.
        drop_pct: OI fall over the window, % of the window's high (base units).
        drop_usd: that fall valued at the current prices, USD.
        price_move_pct: price change since the OI high, % (negative: fell).
        price_range_pct: the price's high over its low within the window, − 1, %.
        score_pct: what the threshold judges: ``sqrt(drop_pct × price_range_pct)``, or
            ``drop_pct`` with ``score: oi``.
        side: the side unwound (price down: ``long``; up: ``short``).
        threshold_pct: the scope's threshold on the score at that time, %.
        rarity_days: how many days of the scope's history one such drop takes (the
            inverse of the share of days whose maximum reached it; the number of days
            kept when none did, a lower bound), None while warming up.
        instruments: instruments that contributed.
        window_s: the window whose score passed (of ``windows_s``; the one furthest past
            its threshold when several did), s.
        joined: judged at the joined return period, because the lead scope was unwinding.
    """

    scope: str
    ts_ns: int
    drop_pct: float
    drop_usd: float
    price_move_pct: float
    price_range_pct: float
    score_pct: float
    side: Side
    threshold_pct: float
    rarity_days: float | None
    instruments: int
    window_s: int
    joined: bool = False


@dataclass(slots=True)
class _Series:
    """Step samples of one instrument: (step, OI in base units, price), oldest first."""

    samples: deque[tuple[int, float, float]] = field(default_factory=deque)

    def add(self, step: int, oi_base: float, price: float, keep_steps: int) -> None:
        if self.samples and self.samples[-1][0] == step:
            self.samples[-1] = (step, oi_base, price)
        else:
            self.samples.append((step, oi_base, price))
        while self.samples and self.samples[0][0] <= step - keep_steps:
            self.samples.popleft()


@dataclass(slots=True)
class _Scope:
    """OI state of one scope: its instruments' series and, per window, its daily maxima."""

    series: dict[str, _Series] = field(default_factory=dict)
    day: int = -1
    day_max: list[float] = field(default_factory=list)  # today's maximum, per window
    maxima: list[deque[float]] = field(default_factory=list)  # past days' maxima, per window


@dataclass(frozen=True, slots=True)
class _Window:
    """One window's statistics at one evaluation (all %, USD for `drop_usd`)."""

    drop_pct: float
    drop_usd: float
    move_pct: float
    range_pct: float
    score: float
    used: int


class DeleveragingDetector:
    """Tracks OI per scope and reports drops beyond each scope's own threshold."""

    def __init__(
        self,
        settings: DeleveragingSettings | None = None,
        quiet: Callable[[str, int], bool] | None = None,
        lead: str = "market",
    ) -> None:
        self.cfg = settings or DeleveragingSettings()
        self.quiet = quiet  # (scope, ts_ns) → True while its history must not learn
        self.lead = lead  # the scope whose unwind lowers the others' bar
        self.windows_s = tuple(self.cfg.windows_s)
        self._steps = [max(1, w // self.cfg.step_s) + 1 for w in self.windows_s]
        self._keep_steps = max(self._steps)
        self._stale_steps = max(1, self.cfg.stale_s // self.cfg.step_s)
        self._scopes: dict[str, _Scope] = {}
        self.last_drop_pct: dict[str, float] = {}  # scope → first window's OI drop, %

    def observe(
        self, scope: str, instrument: str, ts_ns: int, open_interest_usd: float, price: float
    ) -> None:
        """Fold one OI reading in (from a tick); ignores non-finite or non-positive input."""
        if not (open_interest_usd > 0 and price > 0 and math.isfinite(open_interest_usd)):
            return
        if not math.isfinite(price):
            return
        state = self._scope(scope)
        series = state.series.setdefault(instrument, _Series())
        step = ts_ns // (self.cfg.step_s * NS)
        series.add(step, open_interest_usd / price, price, self._keep_steps)

    def forget(self, instrument: str) -> None:
        """Drop `instrument`'s OI series from every scope (it starts afresh at its next reading)."""
        for state in self._scopes.values():
            state.series.pop(instrument, None)

    def evaluate(self, ts_ns: int) -> list[Deleveraging]:
        """Return the scopes whose OI drop passes their threshold now (event time `ts_ns`).

        A scope with several windows hot reports the one furthest past its threshold. The
        lead scope is measured first; while it is hot the others are judged `joined`.
        """
        out: list[Deleveraging] = []
        step = ts_ns // (self.cfg.step_s * NS)
        lead = self._scopes.get(self.lead)
        found = None if lead is None else self._measure(self.lead, lead, step, ts_ns)
        if found is not None:
            out.append(found)
        joined = found is not None and self.cfg.joined_return_period_days is not None
        for scope, state in self._scopes.items():
            if scope == self.lead:
                continue
            found = self._measure(scope, state, step, ts_ns, joined=joined)
            if found is not None:
                out.append(found)
        return out

    def threshold_pct(
        self, scope: str, window_s: int | None = None, *, joined: bool = False
    ) -> float:
        """Return the scope's current threshold on `window_s`'s score (the first window's), %.

        `joined`: at `joined_return_period_days` (the lead scope is unwinding) instead of
        `return_period_days`; the prior and the floor are the same.
        """
        w = 0 if window_s is None else self.windows_s.index(window_s)
        state = self._scopes.get(scope)
        if state is None or len(state.maxima[w]) < self.cfg.min_days:
            return max(self.cfg.prior_pct, self.cfg.floor_pct)
        ordered = sorted(state.maxima[w])
        period = self.cfg.joined_return_period_days if joined else None
        q = 1.0 - 1.0 / (period or self.cfg.return_period_days)
        pos = q * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        level = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
        return max(level, self.cfg.floor_pct)

    def scopes(self) -> dict[str, tuple[int, list[float], list[list[float]]]]:
        """Return each scope's learnt history: (day, today's maxima, past days' maxima).

        Both lists have one entry per window of `windows_s`. Called at state save.
        """
        return {
            name: (s.day, list(s.day_max), [list(m) for m in s.maxima])
            for name, s in self._scopes.items()
        }

    def load(self, scope: str, day: int, day_max: list[float], maxima: list[list[float]]) -> None:
        """Set one scope's learnt history (as `scopes` returns it); called at state load.

        Raises:
            ValueError: the lists do not have one entry per window.
        """
        if len(day_max) != len(self.windows_s) or len(maxima) != len(self.windows_s):
            msg = "%d windows saved, %d configured" % (len(maxima), len(self.windows_s))
            raise ValueError(msg)
        state = self._scope(scope)
        state.day, state.day_max = int(day), [float(v) for v in day_max]
        state.maxima = [deque(float(v) for v in m[-self.cfg.history_days :]) for m in maxima]

    def _scope(self, scope: str) -> _Scope:
        state = self._scopes.get(scope)
        if state is None:
            n = len(self.windows_s)
            state = _Scope(day_max=[0.0] * n, maxima=[deque() for _ in range(n)])
            self._scopes[scope] = state
        return state

    def _window(self, state: _Scope, step: int, steps: int) -> _Window | None:
        """Measure the last `steps` steps of the scope's series; None without fresh data."""
        drop_usd = high_usd = move_sum = range_sum = 0.0
        used = 0
        for series in state.series.values():
            live = [s for s in series.samples if s[0] > step - steps]
            if not live or live[-1][0] < step - self._stale_steps:
                continue  # stale: this instrument stopped reporting OI
            top = max(live, key=lambda s: s[1])
            _, oi_now, px_now = live[-1]
            weight = top[1] * px_now  # the instrument's OI high, valued now
            drop_usd += max(0.0, top[1] - oi_now) * px_now
            high_usd += weight
            move_sum += (px_now / top[2] - 1.0) * weight
            prices = [s[2] for s in live]
            range_sum += (max(prices) / min(prices) - 1.0) * weight
            used += 1
        if used == 0 or high_usd <= 0:
            return None
        drop_pct = 100.0 * drop_usd / high_usd
        range_pct = 100.0 * range_sum / high_usd
        score = drop_pct if self.cfg.score == "oi" else math.sqrt(drop_pct * range_pct)
        move_pct = 100.0 * move_sum / high_usd
        return _Window(drop_pct, drop_usd, move_pct, range_pct, score, used)

    def _measure(
        self, scope: str, state: _Scope, step: int, ts_ns: int, *, joined: bool = False
    ) -> Deleveraging | None:
        best: Deleveraging | None = None
        learn = self.quiet is None or not self.quiet(scope, ts_ns)
        for w, (window_s, steps) in enumerate(zip(self.windows_s, self._steps, strict=True)):
            m = self._window(state, step, steps)
            if m is None:
                continue
            if w == 0:
                self.last_drop_pct[scope] = m.drop_pct
            threshold = self.threshold_pct(scope, window_s, joined=joined)  # before today's max
            warm = len(state.maxima[w]) >= self.cfg.min_days
            if learn:
                self._fold_daily(state, ts_ns, w, m.score)
            if (
                m.score < threshold
                or (w > 0 and not warm)  # the prior is the first window's: others wait
                or m.drop_pct < self.cfg.min_drop_pct
                or abs(m.move_pct) < self.cfg.min_price_move_pct
            ):
                continue
            if best is not None and m.score / threshold <= best.score_pct / best.threshold_pct:
                continue
            best = Deleveraging(
                scope=scope,
                ts_ns=ts_ns,
                drop_pct=m.drop_pct,
                drop_usd=m.drop_usd,
                price_move_pct=m.move_pct,
                price_range_pct=m.range_pct,
                score_pct=m.score,
                side="long" if m.move_pct < 0 else "short",
                threshold_pct=threshold,
                rarity_days=self._rarity_days(state.maxima[w], m.score),
                instruments=m.used,
                window_s=window_s,
                joined=joined,
            )
        return best

    def _fold_daily(self, state: _Scope, ts_ns: int, w: int, score: float) -> None:
        day = ts_ns // DAY_NS
        if day != state.day:
            if state.day >= 0:
                for maxima, top in zip(state.maxima, state.day_max, strict=True):
                    maxima.append(top)
                    while len(maxima) > self.cfg.history_days:
                        maxima.popleft()
            state.day, state.day_max = day, [0.0] * len(self.windows_s)
        state.day_max[w] = max(state.day_max[w], score)

    def _rarity_days(self, maxima: deque[float], score: float) -> float | None:
        if len(maxima) < self.cfg.min_days:
            return None
        reached = sum(1 for m in maxima if m >= score)
        return len(maxima) / max(reached, 1) if reached else float(len(maxima))
