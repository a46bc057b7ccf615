"""Stage 1 of the Kafka aggregate: lateness per partition, as in the engine."""

from monitor.aggregate.windows.partial import PartitionBuckets
from monitor.events import Liquidation, Tick

NS = 1_000_000_000
T0 = 1_767_225_600


def liq(sec: float, usd: float = 1000.0) -> Liquidation:
    ts = (T0 * NS) + int(sec * NS)
    return Liquidation(
        exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", position_side="long", price=1.0, qty=usd, notional_usd=usd,
        ts_event_ns=ts, ts_recv_ns=ts, event_id=str(sec),
    )  # fmt: skip


def tick(sec: float, price: float) -> Tick:
    ts = (T0 * NS) + int(sec * NS)
    return Tick(
        exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", price=price, ts_event_ns=ts, ts_recv_ns=ts,
    )  # fmt: skip


def test_late_events_count_in_the_first_open_second_unless_beyond_the_allowed_lateness():
    part = PartitionBuckets("liqmon.liquidations.v1:0", grace_ns=NS, lateness_ns=2 * NS)
    part.add([liq(10), liq(20)], [0, 1])
    first = part.close(part.first_open())  # publishes every second before 19
    assert first is not None
    assert first.closed_before == T0 + 19

    late = part.add([liq(18.5, 500.0), tick(18.7, 99.0), liq(17.5, 7.0)], [2, 3, 4])
    rest = part.flush()

    # 18.5 and the 18.7 tick fold into 19; 17 is below 20 - 2 s: dropped
    assert late == [("bybit", False), ("bybit", False), ("bybit", True)]
    assert rest is not None
    liq_rows = list(zip(rest.liq_sec, rest.long_usd, strict=True))
    assert liq_rows == [(T0 + 19, 500.0), (T0 + 20, 1000.0)]
    assert list(zip(rest.px_sec, rest.last, strict=True)) == [(T0 + 19, 99.0)]
