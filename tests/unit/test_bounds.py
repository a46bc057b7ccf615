"""`monitor.bounds`: what an event must keep before the windows, and the publish wrapper."""

import math

import msgspec
import pytest

from monitor.bounds import Bounds, bounded
from monitor.events import Liquidation, Tick

NS = 1_000_000_000
T = 1_770_000_000 * NS

LIQ = Liquidation(
    exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
    asset_class="crypto", position_side="long", price=60_000.0, qty=1.0,
    notional_usd=60_000.0, ts_event_ns=T, ts_recv_ns=T + NS, event_id="x",
)  # fmt: skip
TICK = Tick(
    exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
    asset_class="crypto", price=60_000.0, bid=59_999.0, ask=60_001.0,
    open_interest_usd=1e9, funding_rate=1e-4, ts_event_ns=T, ts_recv_ns=T,
)  # fmt: skip
r = msgspec.structs.replace


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (LIQ, None),
        (TICK, None),
        (r(LIQ, ts_event_ns=T + 302 * NS), "time"),  # 301 s after its receive time
        (r(LIQ, ts_event_ns=4_102_444_800 * NS), "time"),
        (r(LIQ, price=math.inf), "price"),
        (r(LIQ, price=1.7e308), "price"),
        (r(LIQ, price=-1.0), "price"),
        (r(LIQ, notional_usd=1.7e308), "size"),
        (r(LIQ, qty=math.nan), "size"),
        (r(TICK, bid=60_002.0), "book"),
        (r(TICK, ask=-1.0), "book"),
        (r(TICK, open_interest_usd=math.inf), "size"),
        (r(TICK, funding_rate=math.nan), "price"),
        (r(TICK, ts_recv_ns=T - 400 * NS), "time"),
    ],
)
def test_each_bound(event: Liquidation | Tick, reason: str | None) -> None:
    assert Bounds(max_clock_skew_s=300).reason(event) == reason


async def test_bounded_publish_counts_what_it_rejects_as_taken() -> None:
    sent: list[object] = []
    seen: list[object] = []

    async def publish(events: object) -> int:
        sent.extend(events)  # type: ignore[call-overload]
        return len(events)  # type: ignore[arg-type]

    checked = bounded(publish, Bounds(), seen.extend)
    bad = r(LIQ, price=math.inf)
    assert await checked([LIQ, bad, TICK]) == 3
    assert sent == [LIQ, TICK]
    assert seen == [(bad, "price")]
