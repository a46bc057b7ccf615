"""The one bounded event buffer (venue pump, memory-bus subscription, Kafka ingest buffer)."""

from __future__ import annotations

import asyncio

from monitor.bus.buffer import EventBuffer
from monitor.events import Event, Liquidation, MarginChange
from tests.unit.test_memory_bus import GUARD_S, tick

NS = 1_000_000_000


class Drops:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, n: int) -> None:
        self.calls.append((reason, n))


async def test_a_put_past_the_capacity_keeps_the_oldest_and_counts_the_rest() -> None:
    drops = Drops()
    buffer = EventBuffer(3, drops)
    events = [tick(i) for i in range(5)]

    taken = buffer.put(events[:2]) + buffer.put(events[2:])

    assert taken == 3
    assert drops.calls == [("queue_full", 2)]
    assert buffer.room() == 0
    assert await buffer.take(10) == events[:3]
    assert buffer.room() == 3


async def test_take_waits_for_events_and_returns_nothing_after_its_timeout() -> None:
    buffer = EventBuffer(10)
    assert await buffer.take(5, timeout_s=0.01) == []
    waiting = asyncio.create_task(buffer.take(5))
    await asyncio.sleep(0)
    assert not waiting.done()
    buffer.put([tick(1)])
    async with asyncio.timeout(GUARD_S):
        assert await waiting == [tick(1)]


async def test_a_closed_buffer_drains_then_returns_empty_at_once() -> None:
    buffer = EventBuffer(10)
    buffer.put([tick(i) for i in range(3)])
    buffer.close()
    async with asyncio.timeout(GUARD_S):
        assert len(await buffer.take(2)) == 2
        assert len(await buffer.take(2)) == 1
        assert await buffer.take(2) == []


async def test_wait_room_returns_once_a_take_frees_room() -> None:
    buffer = EventBuffer(1)
    buffer.put([tick(1)])
    waiting = asyncio.create_task(buffer.wait_room())
    await asyncio.sleep(0)
    assert not waiting.done()
    await buffer.take(1)
    async with asyncio.timeout(GUARD_S):
        await waiting


# The Kafka ingest side: a replay's put waits for room, and the publisher's take ends at a
# margin change (it stores the change before what follows).


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


async def test_a_waiting_put_loses_nothing_and_never_holds_more_than_the_capacity() -> None:
    drops = Drops()
    buffer = EventBuffer(3, drops)
    events = [liq(i) for i in range(10)]
    put = asyncio.create_task(buffer.put_waiting(events))
    taken: list[Event] = []
    async with asyncio.timeout(GUARD_S):
        while len(taken) < len(events):
            taken += await buffer.take(2)
            assert buffer.depth() <= 3
    assert await put == 10
    assert taken == events
    assert drops.calls == []


async def test_a_take_until_a_margin_change_ends_there() -> None:
    buffer = EventBuffer(100, Drops())
    events: list[Event] = [liq(0), margin(1), liq(2), liq(3), margin(4), margin(5), liq(6)]
    buffer.put(events)
    buffer.close()
    takes = []
    while chunk := await buffer.take(50, until=lambda e: isinstance(e, MarginChange)):
        takes.append([e.event_id for e in chunk])
    assert takes == [["l0", "m1"], ["l2", "l3", "m4"], ["m5"], ["l6"]]
