import msgspec
import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from monitor.aggregate.windows.buckets import (
    liquidation_buckets,
    liquidation_frame,
    merge_price_buckets,
    price_buckets,
)
from monitor.aggregate.windows.scopes import ScopeIndex
from monitor.aggregate.windows.sliding import LiquidationWindows
from monitor.events import Liquidation, Tick

NS = 1_000_000_000


def liq(sec, usd, side="long", asset="BTC", exchange="bybit"):
    return Liquidation(
        exchange=exchange, symbol=f"{asset}-USDT-PERP", venue_symbol=f"{asset}USDT",
        asset=asset, asset_class="crypto", position_side=side, price=100.0, qty=usd / 100,
        notional_usd=usd, ts_event_ns=sec * NS + 5, ts_recv_ns=sec * NS + 9, event_id=f"{sec}",
    )  # fmt: skip


def tick(sec, price, frac=0):
    return Tick(
        exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", price=price, ts_event_ns=sec * NS + frac, ts_recv_ns=sec * NS,
    )  # fmt: skip


def test_buckets_count_each_event_at_every_scope_level():
    scopes = ScopeIndex()
    events = [liq(10, 100.0), liq(10, 50.0, "short"), liq(11, 7.0, asset="ETH", exchange="okx")]

    frame = liquidation_buckets(liquidation_frame(events), scopes)

    named = frame.with_columns(
        scope=pl.col("sid").map_elements(lambda i: scopes.keys[i], return_dtype=pl.Utf8)
    ).select("sec", "scope", "long_usd", "short_usd", "long_n", "short_n")
    expected = pl.DataFrame(
        {
            "sec": [10, 10, 10, 10, 11, 11, 11, 11],
            "scope": ["bybit:BTC-USDT-PERP", "BTC", "crypto", "market",
                      "okx:ETH-USDT-PERP", "ETH", "crypto", "market"],
            "long_usd": [100.0] * 4 + [7.0] * 4,
            "short_usd": [50.0] * 4 + [0.0] * 4,
            "long_n": [1.0] * 8,
            "short_n": [1.0] * 4 + [0.0] * 4,
        }
    )  # fmt: skip
    assert_frame_equal(
        named.sort("sec", "scope"), expected.sort("sec", "scope"), check_dtypes=False
    )


def test_price_buckets_keep_high_low_and_last_in_arrival_order():
    frame = price_buckets([tick(5, 10.0), tick(5, 12.0, 1), tick(5, 9.0, 2), tick(6, 11.0)])

    assert frame.to_dicts() == [
        {
            "sec": 5,
            "inst": "bybit:BTC-USDT-PERP",
            "high": 12.0,
            "low": 9.0,
            "last": 9.0,
            "oi": None,
        },
        {
            "sec": 6,
            "inst": "bybit:BTC-USDT-PERP",
            "high": 11.0,
            "low": 11.0,
            "last": 11.0,
            "oi": None,
        },
    ]
    again = merge_price_buckets(pl.concat([frame, price_buckets([tick(6, 13.0)])]))
    assert again.row(1, named=True)["last"] == 13.0
    assert again.row(1, named=True)["high"] == 13.0


def test_price_buckets_keep_the_seconds_last_open_interest():
    with_oi = [msgspec.structs.replace(tick(5, 10.0), open_interest_usd=v) for v in (7.0, 8.0)]
    frame = price_buckets([*with_oi, tick(5, 11.0, 1)])  # the last tick has no OI
    assert frame.row(0, named=True)["oi"] == 8.0


def test_running_sums_slide_and_expire_exactly():
    w = LiquidationWindows((10, 60))
    one = np.array([0])

    w.close_second(100, one, np.array([[5.0, 1.0, 1.0, 1.0]]))
    w.close_second(105, one, np.array([[2.0, 0.0, 1.0, 0.0]]))
    assert w.totals(0)[0] == 8.0
    w.close_second(110, np.zeros(0, np.int64), np.zeros((0, 4)))  # 100 leaves the 10 s window
    assert w.totals(0)[0] == 2.0
    assert w.totals(1)[0] == 8.0
    w.close_second(160, np.zeros(0, np.int64), np.zeros((0, 4)))  # 100 leaves the 60 s window
    assert w.totals(1)[0] == 2.0
    w.close_second(165, np.zeros(0, np.int64), np.zeros((0, 4)))
    assert w.totals(1)[0] == 0.0
    assert w.buffered_buckets() <= 2


def test_windows_frame_splits_sides():
    scopes = ScopeIndex()
    sid = scopes.id_of("asset", "BTC")
    w = LiquidationWindows((10,))
    w.close_second(1, np.array([sid]), np.array([[5.0, 2.0, 1.0, 2.0]]))

    frame = w.frame(scopes)

    assert frame.to_dicts() == [
        {"level": "asset", "scope": "BTC", "window_s": 10, "position_side": "long",
         "notional_usd": 5.0, "count": 1},
        {"level": "asset", "scope": "BTC", "window_s": 10, "position_side": "short",
         "notional_usd": 2.0, "count": 2},
    ]  # fmt: skip


def test_the_log_keeps_the_longest_window_and_at_most_64_seconds_more():
    w = LiquidationWindows((10, 600))
    one, value = np.array([0]), np.array([[1.0, 0.0, 1.0, 0.0]])

    for second in range(5000):
        w.close_second(second, one, value)

    assert len(w._log) <= 600 + 64
    assert w.totals(1)[0] == 600.0  # the 600 s window still holds its 600 seconds
