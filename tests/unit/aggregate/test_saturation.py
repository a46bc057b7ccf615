"""Sampled-stream saturation: learnt per instrument, share of seconds, evidence, signal."""

import numpy as np

from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.detect.saturation import (
    SampledSeconds,
    Saturation,
    detect_saturation,
    with_saturation,
)
from monitor.aggregate.windows.columns import LiquidationCoder
from monitor.aggregate.windows.scopes import ScopeIndex
from monitor.config.signals import SaturationSettings
from monitor.events import Liquidation

NS = 1_000_000_000
T0 = 1_770_249_600


def liq(second, exchange, completeness, asset="BTC"):
    return Liquidation(
        exchange=exchange, symbol=asset + "-USDT-PERP", venue_symbol=asset + "USDT",
        asset=asset, asset_class="crypto", position_side="long", price=100.0, qty=1.0,
        notional_usd=100.0, ts_event_ns=second * NS, ts_recv_ns=second * NS,
        completeness=completeness, event_id="%s%d" % (exchange, second),
    )  # fmt: skip


def test_learns_sampled_instruments_and_counts_seconds_with_events():
    scopes = ScopeIndex()
    coder = LiquidationCoder(scopes)
    tracker = SampledSeconds(window_s=10)
    batch = [liq(T0, "bybit", "exact"), liq(T0, "binance_usdm", "sampled")]
    cols = coder.columns(batch)
    tracker.learn(coder, cols, batch)
    binance = scopes.find("instrument", "binance_usdm:BTC-USDT-PERP")
    bybit = scopes.find("instrument", "bybit:BTC-USDT-PERP")
    btc = scopes.find("asset", "BTC")
    assert binance is not None
    assert bybit is not None
    assert btc is not None

    # 8 of the 10 seconds carry a Binance event; Bybit (exact) has events in every second
    for s in range(10):
        sids = [bybit, btc] + ([binance] if s not in (3, 7) else [])
        tracker.close(T0 + s, np.array(sids, dtype=np.int64))
    (sat,) = tracker.by_asset(scopes.keys).values()
    assert (sat.asset, sat.instrument, sat.seconds) == ("BTC", "binance_usdm:BTC-USDT-PERP", 8)
    assert sat.share == 0.8

    tracker.close(T0 + 15, np.zeros(0, dtype=np.int64))  # seconds 0–5 left the window
    assert tracker.by_asset(scopes.keys)["BTC"].seconds == 3  # 6, 8, 9
    tracker.close(T0 + 30, np.zeros(0, dtype=np.int64))
    assert tracker.by_asset(scopes.keys) == {}


def test_signal_needs_share_usd_fraction_of_the_floor_and_one_side():
    cfg = SaturationSettings(window_s=60, min_share=0.8, floor_fraction=0.25)
    full = Saturation("BTC", "binance_usdm:BTC-USDT-PERP", 54, 60)  # 0.9
    half = Saturation("BTC", "binance_usdm:BTC-USDT-PERP", 30, 60)

    sig = detect_saturation(full, 1_200_000.0, 100_000.0, 5_000_000.0, 0.75, cfg)
    assert detect_saturation(half, 1_200_000.0, 100_000.0, 5_000_000.0, 0.75, cfg) is None
    assert detect_saturation(full, 1_000_000.0, 100_000.0, 5_000_000.0, 0.75, cfg) is None
    assert detect_saturation(full, 700_000.0, 600_000.0, 5_000_000.0, 0.75, cfg) is None

    assert sig is not None
    assert (sig.kind, sig.scope, sig.severity) == ("cascade", "BTC", "warning")
    assert sig.evidence["sampled_share"] == 0.9
    assert sig.evidence["liquidated_usd"] == 1_300_000.0
    assert sig.score == 1_300_000.0 / 5_000_000.0


def test_cascade_signals_of_saturated_assets_carry_the_share():
    burst = Signal("cascade", "BTC", "critical", 3.0, "BTC burst", {"z": 7.0})
    other = Signal("liquidity_stress", "BTC", "warning", 1.0, "spread", {})
    eth = Signal("cascade", "ETH", "warning", 1.0, "ETH burst", {})
    found = {"BTC": Saturation("BTC", "binance_usdm:BTC-USDT-PERP", 57, 60)}

    out = with_saturation([burst, other, eth], found)

    assert out[0].evidence == {
        "z": 7.0,
        "sampled_share": 0.95,
        "sampled_seconds": 57,
        "sampled_instrument": "binance_usdm:BTC-USDT-PERP",
    }
    assert out[1:] == [other, eth]


def test_seconds_of_a_settling_market_are_not_counted():
    scopes = ScopeIndex()
    coder = LiquidationCoder(scopes)
    tracker = SampledSeconds(window_s=10)
    batch = [liq(T0, "binance_usdm", "sampled", "TSLA")]
    tracker.learn(coder, coder.columns(batch), batch)
    tsla = scopes.find("instrument", "binance_usdm:TSLA-USDT-PERP")
    assert tsla is not None

    for s in range(10):  # the first six seconds while its market settles after a reopening
        tracker.close(
            T0 + s, np.array([tsla], dtype=np.int64), (lambda sid: True) if s < 6 else None
        )
    assert tracker.by_asset(scopes.keys)["TSLA"].seconds == 4
