"""The issue-5 detectors through the engine: saturation, liquidity stress, threshold rules."""

import itertools

from monitor.aggregate.engine import Engine
from monitor.config import load
from monitor.events import Liquidation, Tick

NS = 1_000_000_000
T0 = 1_767_225_600  # 2026-01-01 00:00Z

# floors high enough that the burst rule stays quiet: what fires is what is tested here
QUIET_BURSTS = {
    "detect.burst.floor_usd_by_asset": {"BTC": 5e6},
    "detect.burst.floor_usd_asset": 5e6,
    "detect.burst.floor_usd_class": 5e7,
    "detect.burst.floor_usd_market": 5e7,
}


def engine(**overrides):
    return Engine(load(None, env={}, overrides={**QUIET_BURSTS, **overrides}))


def liq(sec, usd, exchange="binance_usdm", completeness="sampled", asset="BTC", cls="crypto"):
    return Liquidation(
        exchange=exchange, symbol=f"{asset}-USDT-PERP", venue_symbol=f"{asset}USDT",
        asset=asset, asset_class=cls, position_side="long", price=1.0, qty=usd,
        notional_usd=usd, ts_event_ns=(T0 + sec) * NS, ts_recv_ns=(T0 + sec) * NS,
        completeness=completeness, event_id=f"{exchange}{asset}{sec}",
    )  # fmt: skip


def tick(sec, bps, exchange="bybit", asset="BTC"):
    half = 100.0 * bps * 1e-4 / 2
    return Tick(
        exchange=exchange, symbol=f"{asset}-USDT-PERP", venue_symbol=f"{asset}USDT",
        asset=asset, asset_class="crypto", price=100.0, bid=100.0 - half, ask=100.0 + half,
        ts_event_ns=(T0 + sec) * NS, ts_recv_ns=(T0 + sec) * NS,
    )  # fmt: skip


def run(eng, events, batch_size=37):
    out = []
    it = iter(sorted(events, key=lambda e: e.ts_event_ns))
    while batch := list(itertools.islice(it, batch_size)):
        out += eng.process(batch)
    return out + eng.flush()


def firing(alerts, kind):
    return [a for a in alerts if a.kind == kind and a.state == "firing"]


def test_a_saturated_sampled_stream_raises_a_cascade_below_the_burst_floor():
    # one $25k long liquidation in each of 90 s: $1.5M a minute, under BTC's $5M floor
    sampled = run(engine(), [liq(s, 25_000.0) for s in range(90)])
    exact = run(engine(), [liq(s, 25_000.0, completeness="exact") for s in range(90)])
    gappy = run(engine(), [liq(s, 25_000.0) for s in range(90) if s % 3])  # 2 of 3 seconds

    (alert,) = firing(sampled, "cascade")
    assert alert.scope == "BTC"
    assert alert.evidence["sampled_instrument"] == "binance_usdm:BTC-USDT-PERP"
    assert alert.evidence["sampled_share"] >= 0.8
    assert alert.evidence["liquidated_usd"] >= 0.25 * 5e6
    assert firing(exact, "cascade") == []
    assert firing(gappy, "cascade") == []


def test_spreads_widening_raise_liquidity_stress_on_the_asset():
    eng = engine(**{"detect.liquidity.warmup_min": 10})
    calm = [tick(s, 1.0, venue) for s in range(0, 1200, 5) for venue in ("bybit", "okx")]
    wide = [tick(s, 12.0, venue) for s in range(1200, 1320, 5) for venue in ("bybit", "okx")]
    three = [tick(s, 1.0, venue) for s in range(0, 1320, 5) for venue in ("okx", "gate")]
    three += [tick(s, 1.0 if s < 1200 else 12.0, "bybit") for s in range(0, 1320, 5)]

    alerts = run(eng, calm + wide)
    blip = run(engine(**{"detect.liquidity.warmup_min": 10}), three)

    states = [(a.severity, a.state) for a in alerts if a.kind == "liquidity_stress"]
    assert ("critical", "firing") in states  # 12× the 1 bps baseline
    last = firing(alerts, "liquidity_stress")[-1]
    assert last.scope == "BTC"
    assert last.evidence["spread_ratio"] >= 10
    assert last.evidence["instruments"] == 2
    assert firing(blip, "liquidity_stress") == []  # one venue of three: the median holds


def test_usd_and_breadth_rules_raise_threshold_alerts():
    rules = [
        {"name": "btc-longs", "usd": 1_000_000, "window_s": 60, "side": "long", "scope": "BTC"},
        {"name": "btc-shorts", "usd": 1, "window_s": 60, "side": "short", "scope": "crypto"},
        {"name": "two-assets", "min_assets": 2, "window_s": 600},
    ]
    eng = engine(**{"detect.rules": rules})
    # BTC: $30k of longs per second for 2 minutes (a sampled stream, saturated: cascade);
    # ETH: the same on a sampled stream too, from 30 s later
    events = [liq(s, 30_000.0) for s in range(120)]
    events += [liq(s, 30_000.0, asset="ETH") for s in range(30, 150)]

    alerts = run(eng, events)

    threshold = firing(alerts, "threshold")
    by_scope = {a.scope: a for a in threshold}
    assert set(by_scope) == {"BTC", "market"}  # no short was liquidated
    assert by_scope["BTC"].evidence["rule"] == "btc-longs"
    assert by_scope["BTC"].evidence["liquidated_usd"] >= 1_000_000
    assert by_scope["market"].evidence["rule"] == "two-assets"
    assert by_scope["market"].evidence["assets"] == ["BTC", "ETH"]
