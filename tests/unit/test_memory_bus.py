"""The in-process bus: fan-out by topic, bounded queues, waiting, idle batches, close."""

from __future__ import annotations

import asyncio

import pytest

from monitor.bus.memory import MemoryBus
from monitor.events import TOPIC_LIQUIDATIONS, TOPIC_TICKS, Liquidation, Tick

GUARD_S = 5.0  # generous upper bound so a broken bus fails instead of hanging


def tick(i):
    return Tick(
        exchange="binance_usdm",
        symbol="BTC-USDT-PERP",
        venue_symbol="BTCUSDT",
        asset="BTC",
        asset_class="crypto",
        price=60_000.0 + i,
        ts_event_ns=i,
        ts_recv_ns=i,
    )


def liq(i):
    return Liquidation(
        exchange="bybit",
        symbol="ETH-USDT-PERP",
        venue_symbol="ETHUSDT",
        asset="ETH",
        asset_class="crypto",
        position_side="long",
        price=3_000.0,
        qty=1.0 + i,
        notional_usd=3_000.0 * (1.0 + i),
        ts_event_ns=i,
        ts_recv_ns=i,
        event_id="liq-%d" % i,
    )


async def drain(sub, max_records=100):
    """Collect every batch until the (closed) subscription ends."""
    return [b async for b in sub.batches(max_records, 1_000)]


async def test_fan_out_delivers_each_topic_to_its_subscription_in_order():
    # Arrange
    bus = MemoryBus(capacity=100)
    ticks_sub = bus.subscribe([TOPIC_TICKS], "ticks")
    liqs_sub = bus.subscribe([TOPIC_LIQUIDATIONS], "liqs")
    events = [tick(1), liq(2), tick(3), liq(4), liq(5), tick(6)]

    # Act
    await bus.publish(events[:3], timeout_s=0)
    await bus.publish(events[3:], timeout_s=0)
    await bus.close()
    got_ticks = await asyncio.wait_for(drain(ticks_sub), GUARD_S)
    got_liqs = await asyncio.wait_for(drain(liqs_sub), GUARD_S)

    # Assert
    assert [e for b in got_ticks for e in b] == [tick(1), tick(3), tick(6)]
    assert [e for b in got_liqs for e in b] == [liq(2), liq(4), liq(5)]


async def test_subscription_to_several_topics_keeps_publish_order_across_topics():
    # Arrange
    bus = MemoryBus(capacity=100)
    sub = bus.subscribe([TOPIC_TICKS, TOPIC_LIQUIDATIONS], "all")
    events = [tick(1), liq(2), tick(3), liq(4)]

    # Act
    accepted = await bus.publish(events, timeout_s=0)
    await bus.close()
    batches = await asyncio.wait_for(drain(sub), GUARD_S)

    # Assert
    assert accepted == 4
    assert batches == [events]


async def test_two_subscriptions_to_one_topic_each_get_every_event():
    # Arrange
    bus = MemoryBus(capacity=100)
    first = bus.subscribe([TOPIC_TICKS], "first")
    second = bus.subscribe([TOPIC_TICKS], "second")
    events = [tick(1), tick(2)]

    # Act
    await bus.publish(events, timeout_s=0)
    await bus.close()

    # Assert
    assert await asyncio.wait_for(drain(first), GUARD_S) == [events]
    assert await asyncio.wait_for(drain(second), GUARD_S) == [events]


async def test_subscription_sees_only_events_published_after_it_subscribed():
    # Arrange
    bus = MemoryBus(capacity=100)
    await bus.publish([tick(1)], timeout_s=0)
    sub = bus.subscribe([TOPIC_TICKS], "late")

    # Act
    await bus.publish([tick(2)], timeout_s=0)
    await bus.close()

    # Assert
    assert await asyncio.wait_for(drain(sub), GUARD_S) == [[tick(2)]]


async def test_full_queue_with_zero_timeout_drops_the_rest_and_reports_it():
    # Arrange
    drops = []
    bus = MemoryBus(capacity=3, on_drop=lambda reason, n: drops.append((reason, n)))
    sub = bus.subscribe([TOPIC_TICKS], "small")
    events = [tick(i) for i in range(5)]

    # Act
    accepted = await bus.publish(events, timeout_s=0)

    # Assert
    assert accepted == 3
    assert drops == [("queue_full", 2)]
    assert len(sub) == 3
    assert sub.room() == 0
    assert bus.depth() == 3
    await bus.close()
    assert await asyncio.wait_for(drain(sub), GUARD_S) == [events[:3]]


async def test_publish_without_timeout_waits_for_the_consumer_and_loses_nothing():
    # Arrange
    drops = []
    bus = MemoryBus(capacity=2, on_drop=lambda reason, n: drops.append((reason, n)))
    sub = bus.subscribe([TOPIC_TICKS], "slow")
    events = [tick(i) for i in range(7)]

    async def consume():
        got = []
        async for batch in sub.batches(10, 1_000):
            got.append(batch)
            if sum(len(b) for b in got) == len(events):
                break
        return got

    # Act
    consumer = asyncio.create_task(consume())
    accepted = await asyncio.wait_for(bus.publish(events, timeout_s=None), GUARD_S)
    batches = await asyncio.wait_for(consumer, GUARD_S)

    # Assert
    assert accepted == 7
    assert drops == []
    assert [e for b in batches for e in b] == events
    assert max(len(b) for b in batches) == 2  # never more than capacity was queued
    await bus.close()


async def test_idle_subscription_yields_an_empty_batch_after_the_timeout():
    # Arrange
    bus = MemoryBus(capacity=10)
    sub = bus.subscribe([TOPIC_TICKS], "idle")
    batches = sub.batches(10, 1)

    # Act
    first = await asyncio.wait_for(anext(batches), GUARD_S)
    await bus.publish([tick(1)], timeout_s=0)
    second = await asyncio.wait_for(anext(batches), GUARD_S)

    # Assert
    assert first == []
    assert second == [tick(1)]
    await batches.aclose()
    await bus.close()


async def test_batches_are_capped_at_max_records():
    # Arrange
    bus = MemoryBus(capacity=10)
    sub = bus.subscribe([TOPIC_TICKS], "capped")
    events = [tick(i) for i in range(5)]
    await bus.publish(events, timeout_s=0)

    # Act
    await bus.close()
    batches = await asyncio.wait_for(drain(sub, max_records=2), GUARD_S)

    # Assert
    assert batches == [events[:2], events[2:4], events[4:]]


async def test_close_wakes_a_waiting_consumer_which_then_ends():
    # Arrange
    bus = MemoryBus(capacity=10)
    sub = bus.subscribe([TOPIC_TICKS], "waiting")
    got_first = asyncio.Event()

    async def consume():
        got = []
        # a long timeout: only close() can end this consumer within GUARD_S
        async for batch in sub.batches(10, 60_000):
            got.append(batch)
            got_first.set()
        return got

    await bus.publish([tick(1)], timeout_s=0)
    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), GUARD_S)  # consumer now waits for more

    # Act
    await bus.close()
    batches = await asyncio.wait_for(consumer, GUARD_S)

    # Assert
    assert batches == [[tick(1)]]  # no spurious empty batch: none timed out


async def test_publish_after_close_raises():
    # Arrange
    bus = MemoryBus(capacity=10)
    bus.subscribe([TOPIC_TICKS], "any")
    await bus.close()

    # Act / Assert
    with pytest.raises(RuntimeError, match="closed bus"):
        await bus.publish([tick(1)], timeout_s=0)


async def test_publish_without_subscribers_accepts_everything():
    # Arrange
    bus = MemoryBus(capacity=1)

    # Act
    accepted = await bus.publish([tick(1), tick(2), liq(3)], timeout_s=0)

    # Assert
    assert accepted == 3
    assert bus.depth() == 0
    await bus.close()


async def test_publish_counts_events_routed_to_different_subscriptions():
    bus = MemoryBus(capacity=10)
    bus.subscribe([TOPIC_TICKS], "ticks")
    bus.subscribe([TOPIC_LIQUIDATIONS], "liqs")

    accepted = await bus.publish([tick(1), liq(2)], timeout_s=0)

    assert accepted == 2
