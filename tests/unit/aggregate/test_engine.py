import itertools

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from monitor.aggregate.engine import Engine
from monitor.config import Settings, load
from monitor.events import Liquidation, MarginChange
from monitor.observability.metrics import Metrics
from monitor.synth import Burst, liquidations

NS = 1_000_000_000
T0 = 1_767_225_600 * NS


def settings(**aggregate):
    return load(None, env={}, overrides={f"aggregate.{k}": v for k, v in aggregate.items()})


def liq(sec, usd=1000.0, side="long", asset="BTC"):
    return Liquidation(
        exchange="bybit", symbol=f"{asset}-USDT-PERP", venue_symbol=f"{asset}USDT",
        asset=asset, asset_class="crypto", position_side=side, price=1.0, qty=usd,
        notional_usd=usd, ts_event_ns=T0 + int(sec * NS), ts_recv_ns=T0 + int(sec * NS),
        event_id=str(sec),
    )  # fmt: skip


def run(engine, events, batch_size):
    alerts = []
    it = iter(events)
    while batch := list(itertools.islice(it, batch_size)):
        alerts += engine.process(batch)
    return alerts + engine.flush()


def test_a_late_event_counts_in_the_first_open_second():
    registry = CollectorRegistry()
    engine = Engine(settings(grace_ms=1000), Metrics(registry))

    engine.process([liq(10), liq(20)])  # closes every second before 19
    engine.process([liq(18.5, 500.0), liq(19.5)])  # 18 is closed: late; 19 is still open
    before = engine.windows_frame().filter(window_s=10, level="asset", position_side="long")
    engine.flush()

    assert registry.get_sample_value("liqmon_late_events_total", {"exchange": "bybit"}) == 1
    assert registry.get_sample_value("liqmon_events_dropped_total", {"reason": "late"}) == 0
    assert engine.window_usd("asset", "BTC", 3600) == (3500.0, 0.0)
    assert before.get_column("notional_usd").to_list() == [1000.0]  # seconds 9-18: 10 only
    assert engine.window_usd("asset", "BTC", 10) == (2500.0, 0.0)  # 19 (with 18.5) and 20


def test_events_beyond_the_allowed_lateness_are_dropped():
    registry = CollectorRegistry()
    engine = Engine(settings(grace_ms=1000, allowed_lateness_ms=3000), Metrics(registry))

    engine.process([liq(10), liq(20)])
    engine.process([liq(16.5), liq(17.5, 500.0)])  # 16 < 20 - 3 s: dropped; 17 folded

    engine.flush()
    assert registry.get_sample_value("liqmon_late_events_total", {"exchange": "bybit"}) == 2
    assert registry.get_sample_value("liqmon_events_dropped_total", {"reason": "late"}) == 1
    assert engine.window_usd("asset", "BTC", 3600) == (2500.0, 0.0)


def test_lateness_does_not_depend_on_batch_boundaries():
    events = [liq(10), liq(30), liq(12), liq(29.5), liq(28.5, 500.0), liq(31), liq(5)]

    results = []
    for size in (1, 2, 7):
        engine = Engine(settings(grace_ms=1000))
        run(engine, events, size)
        results.append(engine.window_usd("asset", "BTC", 3600))

    # 12 and 5 are beyond the 2 s allowed lateness, 28.5 counts in 29, whatever the batching
    assert results == [(4500.0, 0.0)] * 3


def test_alerts_are_identical_for_any_batch_size():
    burst = (Burst("ETH", start_s=3000, duration_s=300, rate_per_s=15.0),)
    events = list(liquidations(start_ns=T0, duration_s=4000, rate_per_s=2.0, seed=3, bursts=burst))

    outputs = [run(Engine(Settings()), events, size) for size in (7, 500, len(events))]

    encoded = [msgspec.json.encode(a) for a in outputs]
    assert outputs[0], "the burst must raise alerts"
    assert encoded[0] == encoded[1] == encoded[2]
    assert {(a.scope, a.state) for a in outputs[0]} >= {("ETH", "firing"), ("market", "firing")}


def test_alert_resolves_after_data_stops():
    cfg = load(None, env={}, overrides={"detect.lifecycle.resolve_after_s": 120})
    engine = Engine(cfg)
    burst = [liq(100 + i * 0.1, 100_000.0) for i in range(300)]  # $30M in 30 s, all longs

    alerts = run(engine, burst, 50)
    alerts += engine.process([liq(1000, 10.0, asset="DOGE")])  # time moves on, quietly

    states = [a.state for a in alerts if a.scope == "BTC"]
    # firing twice: warning after burst.for_s, then escalated to critical as the USD grows
    assert states == ["pending", "firing", "firing", "resolved"]
    resolved = next(a for a in alerts if a.scope == "BTC" and a.state == "resolved")
    assert resolved.ts_ns - T0 < 400 * NS  # idle evaluation resolved it, not the late DOGE


def test_windows_frame_reports_all_levels():
    engine = Engine(Settings())
    engine.process([liq(1, 10.0), liq(2, 5.0, "short"), liq(10, 1.0)])

    frame = engine.windows_frame().filter(window_s=3600)

    rows = {
        (r["level"], r["scope"], r["position_side"]): r["notional_usd"] for r in frame.to_dicts()
    }
    assert rows[("asset", "BTC", "long")] == pytest.approx(10.0)
    assert rows[("market", "market", "short")] == pytest.approx(5.0)
    assert rows[("instrument", "bybit:BTC-USDT-PERP", "long")] == pytest.approx(10.0)


def test_tick_seconds_close_before_any_liquidation_second():
    from monitor.events import Tick

    def tick(sec):
        return Tick(
            exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
            asset_class="crypto", price=100.0, ts_event_ns=T0 + sec * NS, ts_recv_ns=T0 + sec * NS,
        )  # fmt: skip

    engine = Engine(settings(grace_ms=0))
    # the liquidation creates its scopes now; the tick seconds before it close first
    engine.process([tick(1), tick(2), liq(5, 2_000_000.0)])
    engine.flush()

    assert engine.window_usd("asset", "BTC", 60) == (2_000_000.0, 0.0)


def test_scopes_first_seen_in_a_later_batch_get_their_floor():
    quiet = [liq(s, 10.0) for s in range(0, 100, 10)]
    burst = [liq(200 + i * 0.1, 100_000.0, asset="DOGE") for i in range(300)]  # $30M in 30 s

    for size in (1, len(quiet) + len(burst)):
        alerts = run(Engine(Settings()), quiet + burst, size)

        assert ("DOGE", "firing") in {(a.scope, a.state) for a in alerts}, size


def test_baselines_start_with_a_scope_s_data_not_when_a_batch_names_it():
    # XRP's first liquidation closes at 3000 s; a batch holding all events names it at 0 s.
    # Its warm-up (60 min, floor × 2) must count from its data: the $1.5M burst at
    # 3720 s is over the floor but under the warm-up floor, whatever the batching.
    quiet = [liq(s, 10.0) for s in range(0, 4000, 10)]
    xrp = [liq(3000 + s, 10.0, asset="XRP") for s in range(0, 700, 20)]
    burst = [liq(3720 + i * 0.5, 30_000.0, asset="XRP") for i in range(50)]
    events = sorted(quiet + xrp + burst, key=lambda e: e.ts_event_ns)

    cfg = load(None, env={}, overrides={"detect.burst.floor_usd_asset": 1_000_000.0})
    outputs = [run(Engine(cfg), events, size) for size in (1, len(events))]

    assert [(a.scope, a.state) for a in outputs[0]] == [(a.scope, a.state) for a in outputs[1]]
    assert "XRP" not in {a.scope for a in outputs[1]}


def test_a_late_tick_counts_in_the_first_open_second_of_a_mixed_batch():
    from monitor.events import Tick

    registry = CollectorRegistry()
    engine = Engine(settings(grace_ms=1000), Metrics(registry))
    engine.process([liq(10), liq(20)])  # closes every second before 19

    late_tick = Tick(
        exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", price=100.0, bid=99.9, ask=100.1, ts_event_ns=T0 + 18 * NS,
        ts_recv_ns=T0 + 18 * NS,
    )  # fmt: skip
    engine.process([late_tick, liq(19.5, 500.0)])
    engine.flush()

    assert registry.get_sample_value("liqmon_late_events_total", {"exchange": "bybit"}) == 1
    assert registry.get_sample_value("liqmon_events_dropped_total", {"reason": "late"}) == 0
    assert engine.window_usd("asset", "BTC", 3600) == (2500.0, 0.0)
    state = engine.prices.instruments["bybit:BTC-USDT-PERP"]
    assert (state.second, state.last) == (T0 // NS + 19, 100.0)  # 18 had closed: in 19


def test_a_margin_change_taken_twice_counts_once() -> None:
    change = MarginChange(
        venue="cme", product="SI", asset="XAG", asset_class="metal", basis="pct_notional",
        old=15.0, new=18.0, tightening=1 / 6, notice_ts_ns=1_770_300_000 * 10**9,
        effective_ts_ns=1_770_415_200 * 10**9, source="http", event_id="cme:SI:test",
    )  # fmt: skip
    engine = Engine(Settings())
    engine.process([change, change])
    engine.process([change])
    other = msgspec.structs.replace(change, new=20.0, event_id="cme:SI:test2")
    engine.process([other])
    assert [c.event_id for c in engine.margin_changes] == ["cme:SI:test", "cme:SI:test2"]
