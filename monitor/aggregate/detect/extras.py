"""The engine's one hook for liquidity stress, saturation, threshold rules and correlation.

The engine feeds ticks to `add_ticks` and each coded liquidation batch to
`learn_sampled`; at every evaluated second, after bursts and crashes, it calls `evaluate`
with that second's buckets and price updates and the signals found so far, and passes the
result to the alert book. Per second the work is limited to the instruments and assets
that changed, the ones hot at the previous second, and the configured rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.aggregate.detect import liquidity, rules, saturation
from monitor.aggregate.detect.correlation import MinuteReturns
from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.detect.overlays import Spread
from monitor.aggregate.windows.columns import Columns, LiquidationCoder
from monitor.aggregate.windows.scopes import ScopeIndex
from monitor.aggregate.windows.sliding import LONG_USD, SHORT_USD, LiquidationWindows
from monitor.alerts.lifecycle import AlertBook
from monitor.config import Settings
from monitor.events import ASSET_CLASSES, NS, AssetClass, Liquidation, Tick
from monitor.sessions.calendar import TRADFI_MARKETS
from monitor.sessions.guard import Phase, SessionGuard

_NOT_ASSETS = frozenset((*ASSET_CLASSES, "market"))


class ExtraDetectors:
    """State of the issue-5 detectors; reads the engine's windows, book and scopes."""

    def __init__(
        self,
        settings: Settings,
        scopes: ScopeIndex,
        liq: LiquidationWindows,
        book: AlertBook,
        spread: Spread,
        inst_info: Mapping[str, tuple[str, AssetClass]],
        guard: SessionGuard | None = None,
    ) -> None:
        det = settings.detect
        self.settings = settings
        self.scopes, self.liq, self.book, self.spread = scopes, liq, book, spread
        self.inst_info = inst_info
        self.guard = guard  # market sessions; None: every market always open
        phase_of = None if guard is None else self._phase_of(guard)
        self.spreads = liquidity.SpreadWindows(det.liquidity, phase_of)
        self.sampled = saturation.SampledSeconds(det.saturation.window_s)
        self.returns = MinuteReturns(det.contagion)
        self.spread.keep_h = det.contagion.window_h
        self._burst_w = liq.window_index(det.burst.window_s)
        self._rule_w = {r.name: liq.window_index(r.window_s) for r in det.rules if r.usd}
        self._hot_assets: set[str] = set()  # liquidity-stress assets hot at the last step

    # ---- feed path ----------------------------------------------------------------------

    def add_ticks(self, ticks: Iterable[Tick], seconds: Iterable[int]) -> None:
        """Queue the spreads of ticks at `seconds` (epoch s; called per tick batch)."""
        self.spreads.add(ticks, seconds)

    def learn_sampled(
        self, coder: LiquidationCoder, cols: Columns, events: Sequence[Liquidation]
    ) -> None:
        """Note new sampled instruments of a coded batch (O(1) unless it holds new ones)."""
        self.sampled.learn(coder, cols, events)

    def take_buckets(self, liq: pl.DataFrame, px: pl.DataFrame) -> None:
        """Take what a merged summary carries for these detectors (the Kafka cross stage).

        Called by `Engine.add_buckets` after it made the rows' scopes. `liq` rows with
        ``sampled`` mark their instrument sampled (`learn_sampled` learns the same from the
        first liquidation); `px` rows with ``spread_n`` > 0 queue their folded spreads
        (`add_ticks` queues the same per tick). Frames without those columns add nothing.
        """
        if "sampled" in liq.columns:
            rows = liq.filter(pl.col("sampled")).select("instrument", "asset").unique()
            for inst, asset in rows.iter_rows():
                sid = self.scopes.find("instrument", inst)
                if sid is not None:
                    self.sampled.mark(sid, asset)
        if "spread_n" in px.columns:
            cols = ("sec", "inst", "asset", "spread_last", "spread_log", "spread_n")
            self.spreads.add_folded(px.filter(pl.col("spread_n") > 0).select(cols).iter_rows())

    # ---- per second ---------------------------------------------------------------------

    def evaluate(
        self,
        second: int,
        sids: npt.NDArray[np.int64],
        insts: Sequence[str],
        px: npt.NDArray[np.float64],
        found: list[Signal],
    ) -> list[Signal]:
        """Return `found` (enriched) plus this second's liquidity, saturation and rule signals.

        Args:
            second: the closed second (epoch s); evaluation time is its end.
            sids: scope ids with liquidations in it.
            insts: instruments with prices in it.
            px: their ``(high, last)`` prices, one row per instrument.
            found: the burst and crash signals of this second.
        """
        contagion = self.book.tracks.get(("contagion", "market"))
        self.returns.roll(second, frozen=contagion is not None and contagion.state != "resolved")
        for key, row in zip(insts, px.tolist(), strict=True):
            asset, asset_class = self.inst_info[key]
            self.returns.price(key, asset, asset_class, row[1])
        self.spread.downside = self.returns.current
        self.sampled.close(second, sids, self._settling_instruments(second))
        out = self._saturation(found)
        out += self._liquidity(second)
        out += self._rules((second + 1) * NS)
        return out

    def _phase_of(self, guard: SessionGuard) -> liquidity.PhaseOf:
        """Return ``phase(key, asset, second)``: instrument `key`'s market phase (epoch s)."""

        def phase(key: str, asset: str, second: int) -> Phase:
            market = guard.market(key, asset, self.spread.class_of.get(asset, "crypto"))
            return "open" if market == "CRYPTO" else guard.phase(market, second * NS)

        return phase

    def _settling_instruments(self, second: int) -> Callable[[int], bool] | None:
        """Return ``settling(sid)`` for sampled instruments at `second`; None if no market is."""
        guard = self.guard
        if guard is None:
            return None
        settling = {m for m in TRADFI_MARKETS if guard.settling(m, second * NS)}
        if not settling:
            return None
        keys, asset_of = self.scopes.keys, self.sampled.asset_of

        def is_settling(sid: int) -> bool:
            asset = asset_of[sid]
            cls = self.spread.class_of.get(asset, "crypto")
            return guard.market(keys[sid], asset, cls) in settling

        return is_settling

    def _saturation(self, found: list[Signal]) -> list[Signal]:
        if not self.sampled.hits:
            return found
        by_asset = self.sampled.by_asset(self.scopes.keys)
        out = saturation.with_saturation(found, by_asset)
        burst = self.settings.detect.burst
        cascading = {s.scope for s in found if s.kind == "cascade"}
        for asset, sat in sorted(by_asset.items()):
            sid = self.scopes.find("asset", asset)
            if asset in cascading or sid is None or sid >= self.liq.sums.shape[0]:
                continue
            row = self.liq.sums[sid, self._burst_w]
            floor = burst.floor_usd_by_asset.get(asset, burst.floor_usd_asset)
            sig = saturation.detect_saturation(
                sat,
                max(float(row[LONG_USD]), 0.0),
                max(float(row[SHORT_USD]), 0.0),
                floor,
                burst.min_side_share,
                self.settings.detect.saturation,
            )
            if sig is not None:
                out.append(sig)
        return out

    def _liquidity(self, second: int) -> list[Signal]:
        touched: set[str] = set()
        if self.spreads.due(second):  # baselines freeze for scopes in alert
            touched = self.spreads.close(second, self.book.open_scopes())
        if not touched and not self._hot_assets:
            return []
        cfg = self.settings.detect.liquidity
        out: list[Signal] = []
        hot: set[str] = set()
        for asset in sorted(touched | self._hot_assets):
            stats = self.spreads.asset_spread(asset, second, cfg.ratio_warning)
            sig = liquidity.detect_liquidity_stress(stats, cfg) if stats is not None else None
            if sig is not None:
                hot.add(asset)
                out.append(sig)
        self._hot_assets = hot
        return out

    def _rules(self, ts_ns: int) -> list[Signal]:
        out: list[Signal] = []
        alerts: list[rules.AssetAlert] | None = None
        for rule in self.settings.detect.rules:
            sig: Signal | None
            if rule.usd is not None:
                long_usd, short_usd = self._usd(rule.scope, self._rule_w[rule.name])
                sig = rules.check_usd_rule(rule, long_usd, short_usd)
            else:
                alerts = self._asset_alerts() if alerts is None else alerts
                sig = rules.check_breadth_rule(rule, alerts, ts_ns)
            if sig is not None:
                out.append(sig)
        return out

    def _usd(self, scope: str, window: int) -> tuple[float, float]:
        sid = self.scopes.find(rules.rule_level(scope), scope)
        if sid is None or sid >= self.liq.sums.shape[0]:
            return (0.0, 0.0)
        row = self.liq.sums[sid, window]
        return (max(float(row[LONG_USD]), 0.0), max(float(row[SHORT_USD]), 0.0))

    def _asset_alerts(self) -> list[rules.AssetAlert]:
        """Return the firing alerts on asset scopes (threshold alerts excluded)."""
        return [
            rules.AssetAlert(t.scope, self.spread.class_of.get(t.scope), t.kind, t.started_ns)
            for t in self.book.tracks.values()
            if t.state == "firing" and t.kind != "threshold" and t.scope not in _NOT_ASSETS
        ]
