"""Liquidity stress: spread in bps, per-instrument baseline, asset median, the rule."""

import math

from monitor.aggregate.detect.liquidity import (
    AssetSpread,
    InstrumentSpread,
    SpreadWindows,
    detect_liquidity_stress,
)
from monitor.aggregate.windows.spreads import spread_bps
from monitor.config.signals import LiquiditySettings
from monitor.events import Tick

NS = 1_000_000_000
T0 = 1_770_249_600  # 2026-02-05 00:00Z, a minute boundary


def tick(second, bid, ask, exchange="bybit", asset="BTC"):
    mid = (bid + ask) / 2 if bid and ask else 100.0
    return Tick(
        exchange=exchange, symbol=asset + "-USDT-PERP", venue_symbol=asset + "USDT",
        asset=asset, asset_class="crypto", price=mid, bid=bid, ask=ask,
        ts_event_ns=second * NS, ts_recv_ns=second * NS,
    )  # fmt: skip


def test_spread_bps_needs_a_sane_two_sided_quote():
    assert spread_bps(99.5, 100.5) == 100.0  # 1 / 100 of the mid
    assert spread_bps(None, 100.0) is None
    assert spread_bps(101.0, 100.0) is None  # crossed
    assert spread_bps(0.0, 1.0) is None


def test_baseline_is_the_geometric_mean_of_minute_means_and_freezes():
    state = InstrumentSpread("bybit:BTC", "BTC", alpha=1.0)  # α = 1: the last minute
    state.update(T0, 2.0, frozen=False)
    state.update(T0 + 30, 8.0, frozen=False)
    assert math.isnan(state.baseline_bps())
    state.update(T0 + 60, 50.0, frozen=False)  # rolls minute 0: mean log = log 4
    assert math.isclose(state.baseline_bps(), 4.0)
    state.update(T0 + 120, 1.0, frozen=True)  # minute 1 (50 bps) while in alert: skipped
    assert math.isclose(state.baseline_bps(), 4.0)
    assert state.minutes == 1


def test_current_spread_is_the_median_of_the_window_and_expires():
    state = InstrumentSpread("bybit:BTC", "BTC", alpha=0.5)
    for i, bps in enumerate([1.0, 9.0, 3.0]):
        state.update(T0 + 10 * i, bps, frozen=False)
    assert state.current_bps(T0 + 20, 60) == 3.0
    assert state.current_bps(T0 + 79, 60) == 3.0  # only the last one left
    assert state.current_bps(T0 + 80, 60) is None


def test_windows_hold_spreads_until_their_second_closes_and_take_the_asset_median():
    cfg = LiquiditySettings(window_s=60, warmup_min=1, baseline_half_life_min=60.0)
    windows = SpreadWindows(cfg)
    # three venues, calm at 1, 2 and 4 bps in minutes 0 and 1; Bybit at 20 bps in minute 2
    for minute in range(3):
        for venue, half in (("bybit", 0.005), ("okx", 0.01), ("gate", 0.02)):
            wide = venue == "bybit" and minute == 2
            windows.add(
                [
                    tick(
                        T0 + 60 * minute,
                        100 - half * (20 if wide else 1),
                        100 + half * (20 if wide else 1),
                        venue,
                    )
                ],
                [T0 + 60 * minute],
            )

    assert windows.close(T0 + 59, set()) == {"BTC"}
    assert windows.asset_spread("BTC", T0 + 59) is None  # no minute folded in yet
    windows.close(T0 + 119, set())
    calm = windows.asset_spread("BTC", T0 + 119)
    assert calm is not None
    assert calm.instruments == 3
    assert math.isclose(calm.ratio, 1.0)
    assert math.isclose(calm.spread_bps, 2.0, rel_tol=1e-3)
    windows.close(T0 + 120, set())
    one = windows.asset_spread("BTC", T0 + 120)
    assert one is not None
    assert math.isclose(one.worst_ratio, 20.0, rel_tol=1e-3)
    assert one.worst_instrument == "bybit:BTC-USDT-PERP"
    assert math.isclose(one.ratio, 1.0)  # the median ignores one venue


def stats(ratio, spread=10.0):
    return AssetSpread("BTC", spread, spread / ratio, ratio, "bybit:BTC-USDT-PERP", ratio, 2)


def test_rule_warning_critical_and_floor():
    cfg = LiquiditySettings(ratio_warning=5.0, ratio_critical=10.0, min_spread_bps=2.0)
    assert detect_liquidity_stress(stats(4.9), cfg) is None
    warn = detect_liquidity_stress(stats(5.0), cfg)
    crit = detect_liquidity_stress(stats(12.0), cfg)
    assert detect_liquidity_stress(stats(12.0, spread=1.9), cfg) is None  # tiny spread

    assert warn is not None
    assert crit is not None
    assert (warn.kind, warn.scope, warn.severity) == ("liquidity_stress", "BTC", "warning")
    assert crit.severity == "critical"
    assert crit.evidence["spread_ratio"] == 12.0
    assert crit.evidence["baseline_spread_bps"] == round(10.0 / 12.0, 3)
    assert crit.score > warn.score
