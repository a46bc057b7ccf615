"""The engine's side of the deleveraging rule: feeds it OI ticks, turns its finds into Signals.

Every closed price bucket that carries open interest (the second's last
``open_interest_usd`` of an instrument) is observed under its asset, its asset class and the
market (`observe`); once per ``step_s`` of event time the detector is evaluated
and each hot scope becomes a ``deleveraging`` `Signal` whose evidence gives the OI drop in
USD and %, the price move and range, the side unwound, the window whose score passed, the
score against the scope's threshold for that window and how rare it is for the scope, and
the liquidations the feeds showed over the same window (or the longest aggregate window
within it: ``liquidations_window_s``) with their ratio to the drop (how much of the unwind
the liquidation prints saw). Called by `monitor.aggregate.engine.Engine`.

With a `SessionGuard`, an instrument whose TradFi market is settling after a reopening is
not observed and its series is dropped (it restarts after the settling time), and a quiet
scope's evaluations stay out of its daily maxima (`DeleveragingDetector`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import polars as pl

from monitor.aggregate.detect.deleveraging import Deleveraging, DeleveragingDetector
from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.detect.detectors import rarity as rarity_words
from monitor.aggregate.windows.scopes import MARKET, Level
from monitor.config.signals import DeleveragingSettings
from monitor.events import NS, AssetClass, EvidenceValue
from monitor.sessions.guard import SessionGuard
from monitor.state.snapshot import Snapshot

logger = logging.getLogger(__name__)

SNAPSHOT_LAYOUT: Final = 1  # per-window daily maxima, keyed by windows_s
WindowUsd = Callable[[Level, str, int], tuple[float, float]]
"""(level, scope, window_s) → (long USD, short USD) liquidated over that window."""


class DeleveragingStage:
    """Owns the detector; called per tick batch and per closed second."""

    def __init__(
        self,
        cfg: DeleveragingSettings,
        window_usd: WindowUsd,
        guard: SessionGuard | None = None,
        liq_windows_s: Sequence[int] = (3600,),
    ) -> None:
        """`liq_windows_s`: the windows `window_usd` answers for (the aggregate windows)."""
        self.cfg = cfg
        self._liq_windows_s = sorted(liq_windows_s)
        self.guard = guard
        self.detector = DeleveragingDetector(cfg, None if guard is None else guard.scope_quiet)
        self._window_usd = window_usd
        self._last_step = -1
        self._current: list[Signal] = []

    def oi_rows(self, px: pl.DataFrame) -> list[tuple[int, str, float, float]]:
        """Return ``(sec, inst, last, oi)`` of the closed price buckets that carry OI.

        `px` is sorted by second (see `PRICE_SCHEMA`), and so are the rows.
        """
        if not self.cfg.enabled or px.is_empty():
            return []
        rows = px.filter(pl.col("oi").is_not_null()).select("sec", "inst", "last", "oi")
        return rows.rows()

    def observe(
        self,
        rows: list[tuple[int, str, float, float]],
        inst_info: Mapping[str, tuple[str, AssetClass]],
    ) -> None:
        """Fold the OI rows of one closed second in (`oi_rows`).

        `inst_info` maps ``exchange:symbol`` to (asset, asset class). Called by the engine
        for each second it closes, just before evaluating that second, in both the embedded
        and the Kafka pipeline: the detector never sees a later second's OI, however many
        seconds one call closes (a replay's batch size or Kafka's summaries).
        """
        guard = self.guard
        for second, inst, last, oi in rows:
            asset, asset_class = inst_info[inst]
            if guard is not None:
                market = guard.market(inst, asset, asset_class)
                if market != "CRYPTO" and guard.settling(market, second * NS):
                    self.detector.forget(inst)
                    continue
            for scope in (asset, asset_class, MARKET):
                self.detector.observe(scope, inst, second * NS, oi, last)

    def signals(self, second: int) -> list[Signal]:
        """Return the deleveraging signals at `second`.

        The detector is evaluated at the first second of each step; its finds hold for the
        rest of the step, so the alert lifecycle sees a scope hot without gaps.
        """
        step = second // self.cfg.step_s
        if not self.cfg.enabled:
            return []
        if step != self._last_step:
            self._last_step = step
            self._current = [self._signal(d) for d in self.detector.evaluate((second + 1) * NS)]
        return self._current

    def _signal(self, d: Deleveraging) -> Signal:
        level: Level = "market" if d.scope == MARKET else "asset"
        if d.scope in ("crypto", "metal", "equity", "index", "energy", "fx"):
            level = "class"
        liq_window_s = self._liq_window_s(d.window_s)
        long_usd, short_usd = self._window_usd(level, d.scope, liq_window_s)
        liq = long_usd if d.side == "long" else short_usd
        rarity = (
            rarity_words(d.rarity_days, d.scope)
            if d.rarity_days is not None
            else "threshold from the prior while %s's history builds" % d.scope
        )
        evidence: dict[str, EvidenceValue] = {
            "oi_drop_pct": round(d.drop_pct, 3),
            "oi_drop_usd": round(d.drop_usd, 2),
            "price_move_pct": round(d.price_move_pct, 3),
            "price_range_pct": round(d.price_range_pct, 3),
            "side": d.side,
            "score_rule": self.cfg.score,
            "score_pct": round(d.score_pct, 3),
            "threshold_pct": round(d.threshold_pct, 3),
            "window_s": d.window_s,
            "liquidations_usd": round(liq, 2),
            "liquidations_window_s": liq_window_s,
            "liquidations_to_oi_drop": round(liq / d.drop_usd, 4) if d.drop_usd > 0 else 0.0,
            "instruments": d.instruments,
            "rarity": rarity,
        }
        if d.rarity_days is not None:
            evidence["rarity_days"] = round(d.rarity_days, 1)
        if d.joined:  # judged at the joined return period: the market was unwinding too
            evidence["joined_market"] = True
            rarity += ", with the market unwinding"
        critical = d.score_pct >= self.cfg.critical_multiple * d.threshold_pct
        return Signal(
            kind="deleveraging",
            scope=d.scope,
            severity="critical" if critical else "warning",
            score=d.score_pct / d.threshold_pct,
            summary="%s: open interest −%.1f%% ($%s) in %d min while the price moved %+.1f%%: "
            "%ss unwinding; liquidation prints show %.0f%% of it (%s)"
            % (
                d.scope,
                d.drop_pct,
                _usd(d.drop_usd),
                d.window_s // 60,
                d.price_move_pct,
                d.side,
                100 * liq / d.drop_usd if d.drop_usd > 0 else 0.0,
                rarity,
            ),
            evidence=evidence,
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the detector's learnt history per scope (called at every state save).

        Kept: each scope's daily maxima and today's maximum, per window, with the windows
        and the score they were learnt with. Not kept: the OI series (at most the longest
        window, rebuilt from the next readings).
        """
        scopes = self.detector.scopes()
        return {
            "layout": SNAPSHOT_LAYOUT,
            "score": self.cfg.score,
            "windows_s": list(self.detector.windows_s),
            "scopes": {k: {"day": d, "day_max": t, "maxima": m} for k, (d, t, m) in scopes.items()},
        }

    def restore(self, state: Snapshot) -> None:
        """Load a `snapshot` (called once, at start); ignores one of another layout or score.

        A window saved and still configured gets its history back; one configured but not
        saved starts empty, one saved but no longer configured is dropped. A snapshot of
        another layout (or none) or learnt with another score is ignored as a whole: the
        detector starts from its prior. Nothing is loaded unless all of it parses.

        Raises:
            KeyError, TypeError, ValueError: a snapshot of this layout that does not parse.
        """
        if state.get("layout") != SNAPSHOT_LAYOUT or state.get("score") != self.cfg.score:
            logger.warning("deleveraging state of another layout or score ignored")
            return
        saved = [int(w) for w in state["windows_s"]]
        mine = self.detector.windows_s
        parsed = []
        for scope, entry in state["scopes"].items():
            by_window = dict(
                zip(saved, zip(entry["day_max"], entry["maxima"], strict=True), strict=True)
            )
            day_max = [float(by_window[w][0]) if w in by_window else 0.0 for w in mine]
            maxima = [[float(v) for v in by_window[w][1]] if w in by_window else [] for w in mine]
            parsed.append((str(scope), int(entry["day"]), day_max, maxima))
        for scope, day, day_max, maxima in parsed:
            self.detector.load(scope, day, day_max, maxima)

    def _liq_window_s(self, window_s: int) -> int:
        """Return the longest liquidation window not longer than `window_s` (else the shortest)."""
        fitting = [w for w in self._liq_windows_s if w <= window_s]
        return fitting[-1] if fitting else self._liq_windows_s[0]


def _usd(value: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return "%.1f%s" % (value / size, unit)
    return "%.0f" % value
