"""The Kafka ingest buffer: live puts drop what does not fit, a replay's puts wait for room,
and a take ends at a margin change (the publisher stores it before what follows)."""

import asyncio

from monitor.bus.ingest_buffer import IngestBuffer
from monitor.events import Event, Liquidation, MarginChange

NS = 1_000_000_000


def liq(i: int) -> Liquidation:
    return Liquidation(
        exchange="bybit", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", asset="BTC",
        asset_class="crypto", position_side="long", price=1.0, qty=1.0, notional_usd=1.0,
        ts_event_ns=i * NS, ts_recv_ns=i * NS, event_id="l%d" % i,
    )  # fmt: skip


def margin(i: int) -> MarginChange:
    return MarginChange(
        venue="cme", product="GC", asset="XAU", asset_class="metal", basis="pct_notional",
        old=8.0, new=9.0, tightening=0.125, notice_ts_ns=i * NS, effective_ts_ns=i * NS,
        source="test", event_id="m%d" % i,
    )  # fmt: skip


class Drops:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, n: int) -> None:
        self.calls.append((reason, n))


async def test_a_live_put_drops_what_does_not_fit() -> None:
    drops = Drops()
    buffer = IngestBuffer(3, drops)
    assert await buffer.put([liq(i) for i in range(5)]) == 3
    assert drops.calls == [("queue_full", 2)]


async def test_a_replay_put_waits_for_room_and_loses_nothing() -> None:
    drops = Drops()
    buffer = IngestBuffer(3, drops, wait=True)
    events = [liq(i) for i in range(10)]
    put = asyncio.create_task(buffer.put(events))
    taken: list[Event] = []
    async with asyncio.timeout(5):
        while len(taken) < len(events):
            taken += await buffer.take(2)
            assert buffer.depth() <= 3
    assert await put == 10
    assert taken == events
    assert drops.calls == []


async def test_a_take_ends_at_each_margin_change() -> None:
    buffer = IngestBuffer(100, Drops())
    events: list[Event] = [liq(0), margin(1), liq(2), liq(3), margin(4), margin(5), liq(6)]
    await buffer.put(events)
    buffer.close()
    takes = []
    while chunk := await buffer.take(50):
        takes.append([e.event_id for e in chunk])
    assert takes == [["l0", "m1"], ["l2", "l3", "m4"], ["m5"], ["l6"]]
