import itertools

from monitor.aggregate.detect.gaps import StreamGaps
from monitor.aggregate.engine import Engine
from monitor.config import load
from monitor.config.gaps import DataGapSettings
from monitor.events import Liquidation, Tick

NS = 1_000_000_000
T0 = 1_767_225_600 * NS


def liq(exchange, sec, usd=1000.0):
    return Liquidation(
        exchange=exchange, symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", position_side="long", price=1.0, qty=usd, notional_usd=usd,
        ts_event_ns=T0 + int(sec * NS), ts_recv_ns=T0 + int(sec * NS),
        event_id="%s-%s" % (exchange, sec),
    )  # fmt: skip


def tape(silent: dict[str, tuple[int, int]], duration_s=1800):
    """One liquidation per venue every 2 s; each venue silent over its [start, end) s."""
    out = []
    for sec in range(0, duration_s, 2):
        for ex in ("binance_usdm", "bybit"):
            a, b = silent.get(ex, (0, 0))
            if not a <= sec < b:
                out.append(liq(ex, sec + (0.5 if ex == "bybit" else 0.0)))
    return out


def run(events, batch=300, **overrides):
    engine = Engine(
        load(None, env={}, overrides={"detect.lifecycle.resolve_after_s": 60, **overrides})
    )
    alerts = []
    it = iter(events)
    while chunk := list(itertools.islice(it, batch)):
        alerts += engine.process(chunk)
    return alerts + engine.flush()


def gap_alerts(alerts):
    return [(a.scope, a.state, (a.ts_ns - T0) // NS) for a in alerts if a.kind == "data_gap"]


def test_a_venue_silent_while_its_peer_flows_raises_and_resolves_a_data_gap():
    alerts = gap_alerts(run(tape({"binance_usdm": (600, 900)})))

    # last binance event at 598 s; bound max(60 s, 20 × 2 s) = 60 s: stale from 659 s
    assert alerts == [
        ("binance_usdm", "pending", 659),
        ("binance_usdm", "firing", 659),
        ("binance_usdm", "resolved", 961),  # flowing again at 900 s, cold for 60 s
    ]


def test_venues_silent_together_raise_nothing():
    quiet = {"binance_usdm": (600, 900), "bybit": (600, 900)}

    assert gap_alerts(run(tape(quiet))) == []


def test_the_result_does_not_depend_on_batch_boundaries():
    events = tape({"bybit": (300, 700)})

    assert gap_alerts(run(events, batch=7)) == gap_alerts(run(events, batch=1000))
    assert gap_alerts(run(events, batch=7))[0][:2] == ("bybit", "pending")


def test_a_stream_is_judged_only_after_min_events_and_can_be_turned_off():
    events = tape({"bybit": (20, 900)})  # bybit delivered 10 events, then stopped

    assert gap_alerts(run(events)) == []
    assert gap_alerts(run(tape({"bybit": (300, 700)}), **{"detect.data_gap.enabled": False})) == []


def test_the_typical_gap_sets_the_bound_and_survives_a_snapshot():
    gaps = StreamGaps(DataGapSettings())
    gaps.observe("okx", "liquidations", [T0 + i * 10 * NS for i in range(100)])
    copy = StreamGaps(DataGapSettings())
    copy.restore(gaps.snapshot())

    assert copy.signals(T0 + 2000 * NS) == []  # silent for 1010 s, but no peer flows
    stream = copy.streams[("okx", "liquidations")]
    assert stream.gap_s() == 10.0
    assert copy.bound_s(stream) == 200.0  # 20 × 10 s > 60 s


def tick(exchange, sec, oi=None):
    return Tick(
        exchange=exchange, symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", price=90_000.0, open_interest_usd=oi,
        ts_event_ns=T0 + int(sec * NS), ts_recv_ns=T0 + int(sec * NS),
    )  # fmt: skip


def test_polled_open_interest_does_not_hide_a_dead_mark_stream():
    events = []
    for sec in range(1800):
        events.append(tick("bybit", sec, oi=1e9))  # bybit streams its OI: stream data
        if not 600 <= sec < 1200:
            events.append(tick("binance_usdm", sec + 0.5))  # the mark stream, dead 600-1200 s
        if sec % 8 == 0:
            events.append(tick("binance_usdm", sec + 0.7, oi=2e9))  # the REST poll goes on

    alerts = [a for a in run(events) if a.kind == "data_gap"]

    assert [(a.scope, a.state) for a in alerts][:2] == [
        ("binance_usdm", "pending"),
        ("binance_usdm", "firing"),
    ]
    assert alerts[0].evidence["stream"] == "prices"


def test_the_typical_gap_does_not_depend_on_how_many_events_one_evaluation_folds():
    """The history halves where taking the events one by one would halve it."""
    times = [T0 + i * NS + (i % 7) * NS // 10 for i in range(5_000)]  # an uneven pace
    once, often = StreamGaps(DataGapSettings()), StreamGaps(DataGapSettings())
    once.observe("okx", "liquidations", times)
    once.signals(times[-1])
    for i in range(0, len(times), 1):  # one evaluation per event
        often.observe("okx", "liquidations", times[i : i + 1])
        often.signals(times[i])
    a, b = once.streams[("okx", "liquidations")], often.streams[("okx", "liquidations")]
    assert (a.first_ns, a.last_ns, a.events, a.seen) == (b.first_ns, b.last_ns, b.events, b.seen)
    assert a.events <= 1_000
