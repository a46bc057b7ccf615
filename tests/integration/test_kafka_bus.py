"""KafkaBus against a real Apache Kafka broker (the session's, or an external one).

Each test has its own topic prefix (``kafka_settings``) and its own consumer group, and runs
under ``asyncio.timeout``. The producer runs with the production defaults (idempotent,
``acks=all``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import partitions_of, physical_topic, seek_to_start
from monitor.bus.kafka.consumer import KafkaSubscription
from monitor.config import KafkaSettings
from monitor.events import (
    TOPIC_ALERTS,
    TOPIC_LIQUIDATIONS,
    TOPIC_MARGIN,
    TOPIC_TICKS,
    Alert,
    Event,
    Liquidation,
    MarginChange,
    Tick,
    key_of,
)
from tests.integration.conftest import settings_for, start_broker

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

ALL = (TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_MARGIN, TOPIC_ALERTS)
SYMBOLS = ("BTC-USDT-PERP", "XAG-USDT-PERP", "ETH-USDT-PERP", "XRP-USDT-PERP", "BTC-USD-PERP")
"""Symbols whose murmur2 hashes spread over two partitions (1, 0, 1, 0, 0)."""


def liq(seq: int, symbol: str = "BTC-USDT-PERP") -> Liquidation:
    return Liquidation(
        exchange="bybit",
        symbol=symbol,
        venue_symbol=symbol.replace("-PERP", "").replace("-", ""),
        asset=symbol.split("-", maxsplit=1)[0],
        asset_class="crypto",
        position_side="long" if seq % 2 else "short",
        price=100.0 + seq,
        qty=0.5,
        notional_usd=50.0 + seq,
        ts_event_ns=1_770_000_000_000_000_000 + seq,
        ts_recv_ns=1_770_000_000_000_000_000 + seq,
        event_id="bybit:%s:%d" % (symbol, seq),
    )


def one_of_each() -> list[Event]:
    return [
        liq(1, "BTC-USDT-PERP"),
        liq(2, "XAU-USDT-PERP"),
        Tick(
            exchange="okx",
            symbol="ETH-USDT-PERP",
            venue_symbol="ETH-USDT-SWAP",
            asset="ETH",
            asset_class="crypto",
            price=2500.5,
            bid=2500.0,
            ask=2501.0,
            ts_event_ns=1,
            ts_recv_ns=2,
        ),
        MarginChange(
            venue="cme",
            product="SI",
            asset="XAG",
            asset_class="metal",
            basis="pct_notional",
            old=0.15,
            new=0.18,
            tightening=1 - 0.15 / 0.18,
            notice_ts_ns=3,
            effective_ts_ns=4,
            source="test",
            event_id="cme:SI:1",
        ),
        Alert(
            alert_id="a1",
            kind="cascade",
            scope="BTC",
            state="firing",
            severity="critical",
            wave=1,
            started_ns=5,
            ts_ns=6,
            summary="BTC longs liquidated",
            evidence={"usd": 1e7, "order": ["BTC", "XAU"]},
        ),
    ]


def group() -> str:
    return "g-%s" % uuid.uuid4().hex[:10]


class Drops:
    """A DropCallback that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, count: int) -> None:
        self.calls.append((reason, count))

    def total(self, reason: str) -> int:
        return sum(n for r, n in self.calls if r == reason)


@pytest.fixture
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[KafkaBus]:
    async with KafkaBus(kafka_settings) as kafka_bus:
        yield kafka_bus


async def collect(sub: KafkaSubscription, n: int, max_records: int = 1000) -> list[Event]:
    """Read batches until `n` events came (the caller bounds the time)."""
    got: list[Event] = []
    async for batch in sub.batches(max_records, 50):
        got.extend(batch)
        if len(got) >= n:
            break
    return got


async def test_round_trip_every_type_with_design_keys(
    bus: KafkaBus, kafka_settings: KafkaSettings
) -> None:
    # Arrange
    events = one_of_each()
    sub = bus.subscribe(ALL, group())
    # Act
    async with asyncio.timeout(20):
        assert await bus.publish(events, timeout_s=5) == len(events)
        got = await collect(sub, len(events))
        keys = await raw_keys(kafka_settings, len(events))
    # Assert
    assert sorted(got, key=repr) == sorted(events, key=repr)
    assert sorted(keys) == sorted(key_of(e).encode() for e in events)
    assert bus.delivered == len(events)
    assert bus.failed == 0


async def raw_keys(settings: KafkaSettings, n: int) -> list[bytes]:
    """Read record keys of every contract topic with a plain aiokafka consumer (no group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(physical_topic(settings, t), p)
            for t in ALL
            for p in range(partitions_of(settings, t))
        ]
        consumer.assign(tps)
        keys: list[bytes] = []
        while len(keys) < n:
            for records in (await consumer.getmany(timeout_ms=50)).values():
                keys.extend(r.key for r in records)
        return keys
    finally:
        await consumer.stop()


async def read_from_start(settings: KafkaSettings) -> int:
    """Count the liquidations topic's records as `CrossStage` reads the alerts topic.

    A fresh consumer whose default reset goes to the end (aiokafka's ``latest``) is assigned
    the partitions, takes their end offsets and is moved to their start with `seek_to_start`.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="latest"
    )
    topic = physical_topic(settings, TOPIC_LIQUIDATIONS)
    tps = [TopicPartition(topic, p) for p in range(partitions_of(settings, TOPIC_LIQUIDATIONS))]
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await seek_to_start(consumer, tps)
        count = 0
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=50)).values():
                count += len(records)
        return count
    finally:
        await consumer.stop()


async def test_seek_to_start_reads_a_fresh_assignment_from_its_first_record(
    bus: KafkaBus, kafka_settings: KafkaSettings
) -> None:
    # Arrange: 40 records over two partitions
    async with asyncio.timeout(30):
        assert await bus.publish([liq(i, SYMBOLS[i % 2]) for i in range(40)], timeout_s=5) == 40
        assert await bus.flush(10)
        # Act: aiokafka's seek_to_beginning lost to the reset to the end already in flight
        counts = [await read_from_start(kafka_settings) for _ in range(5)]
    # Assert
    assert counts == [40] * 5


async def test_order_is_kept_within_a_key(bus: KafkaBus) -> None:
    # Arrange
    events = [liq(i, SYMBOLS[i % 3]) for i in range(300)]
    sub = bus.subscribe([TOPIC_LIQUIDATIONS], group())
    # Act
    async with asyncio.timeout(20):
        for start in range(0, 300, 50):
            await bus.publish(events[start : start + 50], timeout_s=5)
        got = await collect(sub, 300, max_records=70)
    # Assert
    assert len(got) == 300
    for symbol in SYMBOLS[:3]:
        seqs = [e.ts_event_ns for e in got if isinstance(e, Liquidation) and e.symbol == symbol]
        assert seqs == sorted(seqs)
        assert len(seqs) == 100


async def test_two_members_of_one_group_split_the_partitions(bus: KafkaBus) -> None:
    # Arrange
    name = group()
    subs = [bus.subscribe([TOPIC_LIQUIDATIONS], name) for _ in range(2)]
    received: list[list[Event]] = [[], []]
    events = [liq(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(200)]
    split, done = asyncio.Event(), asyncio.Event()

    async def pump(i: int) -> None:
        async for batch in subs[i].batches(500, 50):
            received[i].extend(batch)
            if subs[0].assignment() and subs[1].assignment():
                split.set()
            if len(received[0]) + len(received[1]) >= len(events):
                done.set()

    # Act
    async with asyncio.timeout(30), asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(pump(i)) for i in range(2)]
        await split.wait()
        await bus.publish(events, timeout_s=5)
        await done.wait()
        for task in tasks:
            task.cancel()
    # Assert
    a, b = subs[0].assignment(), subs[1].assignment()
    assert not a & b
    assert len(a | b) == 2
    assert received[0]
    assert received[1]
    assert sorted(received[0] + received[1], key=repr) == sorted(events, key=repr)


async def test_a_new_member_resumes_after_the_committed_offset(
    kafka_settings: KafkaSettings,
) -> None:
    # Arrange
    name = group()
    events = [liq(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(200)]
    async with asyncio.timeout(30), KafkaBus(kafka_settings) as bus:
        await bus.publish(events, timeout_s=5)
        first = bus.subscribe([TOPIC_LIQUIDATIONS], name)
        # Act: process two batches, commit them, then leave
        processed: list[Event] = []
        async for batch in first.batches(40, 50):
            processed.extend(batch)
            if len(processed) >= 60:
                await first.commit()
                break
        await first.stop()
        second = bus.subscribe([TOPIC_LIQUIDATIONS], name)
        rest = await collect(second, len(events) - len(processed))
        # one idle round: nothing else arrives
        async for batch in second.batches(1000, 200):
            rest.extend(batch)
            break
    # Assert: nothing lost, nothing doubled
    assert 60 <= len(processed) < len(events)
    assert sorted(processed + rest, key=repr) == sorted(events, key=repr)


async def test_an_unchanged_offset_is_committed_once(bus: KafkaBus) -> None:
    # Arrange: every record read, its end marked; count the consumer's commit requests
    events = [liq(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(60)]
    sub = bus.subscribe([TOPIC_LIQUIDATIONS], group())
    ends: dict[TopicPartition, int] = {}
    async with asyncio.timeout(20):
        await bus.publish(events, timeout_s=5)
        async for records in sub.records(1000, 50):
            for tp, messages in records.items():
                if messages:
                    ends[tp] = messages[-1].offset + 1
            if sum(ends.values()) >= len(events):
                break
        consumer = sub._consumer
        real_commit = consumer.commit
        sent: list[dict[TopicPartition, int]] = []

        async def counting_commit(offsets: dict[TopicPartition, int]) -> None:
            sent.append(dict(offsets))
            await real_commit(offsets)

        consumer.commit = counting_commit
        # Act: commit, re-mark the same offsets and commit again, then move one back
        for tp, end in ends.items():
            sub.mark(tp, end)
        await sub.commit()
        for tp, end in ends.items():
            sub.mark(tp, end)
        await sub.commit()
        moved = next(iter(ends))
        sub.mark(moved, 0)
        await sub.commit()
        stored = {tp: await consumer.committed(tp) for tp in ends}
    # Assert: the repeat sent nothing; a changed offset is sent and stored
    assert sent == [ends, {moved: 0}]
    assert stored == {**ends, moved: 0}


async def drain(sub: KafkaSubscription) -> list[Event]:
    """Read until a 300 ms idle batch follows some data (or two idle batches)."""
    got: list[Event] = []
    idle = 0
    async for batch in sub.batches(1000, 300):
        got.extend(batch)
        if not sub.assignment():
            continue  # still joining the group
        idle = 0 if batch else idle + 1
        if idle and (got or idle > 1):
            break
    return got


async def test_seek_to_time_rereads_the_last_span(bus: KafkaBus) -> None:
    # Arrange: old records, a pause, fresh records; a member has read them all
    old = [liq(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(50)]
    new = [liq(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(50, 100)]
    sub = bus.subscribe([TOPIC_LIQUIDATIONS], group())
    async with asyncio.timeout(20):
        await bus.publish(old, timeout_s=5)
        assert await bus.flush(5)
        await asyncio.sleep(0.6)
        between_ns = time.time_ns() - 300_000_000
        await bus.publish(new, timeout_s=5)
        assert len(await collect(sub, 100)) == 100
        # Act
        await sub.seek_to_time(between_ns // 1_000_000)
        again = await drain(sub)
    # Assert
    assert sorted(again, key=repr) == sorted(new, key=repr)


async def test_a_restarted_member_rebuilds_from_the_last_span(bus: KafkaBus) -> None:
    # Arrange: a member read everything, committed, and left
    name = group()
    events = [liq(i, SYMBOLS[i % len(SYMBOLS)]) for i in range(100)]
    async with asyncio.timeout(25):
        await bus.publish(events, timeout_s=5)
        first = bus.subscribe([TOPIC_LIQUIDATIONS], name)
        assert len(await collect(first, 100)) == 100
        await first.commit()
        await first.stop()
        # Act: its successor re-reads the last minute on assignment, then goes on
        second = bus.subscribe([TOPIC_LIQUIDATIONS], name, rewind_on_assign_ns=60 * 10**9)
        rebuilt = await drain(second)
        later = liq(100)
        await bus.publish([later], timeout_s=5)
        after = await collect(second, 1)
    # Assert: without the rewind the committed offsets would give nothing back
    assert sorted(rebuilt, key=repr) == sorted(events, key=repr)
    assert after == [later]


async def test_a_garbage_record_is_counted_and_skipped(kafka_settings: KafkaSettings) -> None:
    # Arrange
    drops = Drops()
    topic = physical_topic(kafka_settings, TOPIC_LIQUIDATIONS)
    async with asyncio.timeout(20), KafkaBus(kafka_settings, on_drop=drops) as bus:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"{not json", key=b"BTC-USDT-PERP")
            await producer.send_and_wait(topic, b'{"type":"nope"}', key=b"BTC-USDT-PERP")
        finally:
            await producer.stop()
        await bus.publish([liq(1)], timeout_s=5)
        sub = bus.subscribe([TOPIC_LIQUIDATIONS], group())
        # Act
        got = await collect(sub, 1)
    # Assert
    assert got == [liq(1)]
    assert drops.total("decode") == 2


async def test_in_flight_bound_drops_with_a_zero_timeout(kafka_bootstrap: str) -> None:
    # Arrange
    drops = Drops()
    settings = settings_for(kafka_bootstrap, max_in_flight=1)
    async with asyncio.timeout(20), KafkaBus(settings, on_drop=drops) as bus:
        # Act
        accepted = await bus.publish([liq(i) for i in range(10)], timeout_s=0)
        depth = bus.depth()
        assert await bus.flush(5)
    # Assert
    assert accepted == 1
    assert depth == 1
    assert drops.calls == [("queue_full", 9)]
    assert bus.delivered == 1


async def test_in_flight_bound_waits_for_room_without_timeout(kafka_bootstrap: str) -> None:
    # Arrange
    drops = Drops()
    settings = settings_for(kafka_bootstrap, max_in_flight=5)
    async with asyncio.timeout(20), KafkaBus(settings, on_drop=drops) as bus:
        # Act
        accepted = await bus.publish([liq(i) for i in range(50)], timeout_s=None)
        assert await bus.flush(5)
    # Assert
    assert accepted == 50
    assert drops.calls == []
    assert bus.delivered == 50


async def test_broker_gone_mid_publish_is_bounded_and_delivered_after_restart(
    tmp_path: Path,
) -> None:
    # Arrange: a broker of this test's own, so stopping it harms no other test
    broker = start_broker(tmp_path / "kafka")
    drops = Drops()
    outcomes: list[str] = []

    def on_delivery(outcome: str, count: int) -> None:
        outcomes.extend([outcome] * count)

    settings = settings_for(broker.bootstrap, max_batch_bytes=16_384)
    topic = physical_topic(settings, TOPIC_LIQUIDATIONS)
    try:
        async with asyncio.timeout(60):
            bus = KafkaBus(settings, on_drop=drops, on_delivery=on_delivery)
            await bus.start()
            try:
                await bus.publish([liq(i) for i in range(10)], timeout_s=5)
                assert await bus.flush(5)
                broker.stop()
                # Act: publish into the void, bounded; then the broker comes back
                started = time.monotonic()
                accepted = await bus.publish([liq(i) for i in range(20_000)], timeout_s=0.5)
                elapsed = time.monotonic() - started
                pending = bus.depth()
                await asyncio.sleep(1.0)
                failed_while_down = bus.failed
                await asyncio.to_thread(broker.start)
                assert await bus.flush(30)
            finally:
                await bus.close()
    finally:
        broker.stop()
    # Assert: publish kept its bound and counted the rest; the idempotent producer held what
    # it took and delivered it once the broker was back: no loss, no duplicate
    assert elapsed < 1.5
    assert 0 < accepted < 20_000
    assert accepted + drops.total("queue_full") == 20_000
    assert pending == accepted
    assert failed_while_down == 0
    assert bus.failed == 0
    assert bus.delivered == 10 + accepted
    assert outcomes == ["ok"] * (10 + accepted)
    stored = sum(end for (t, _), end in bus.end_offsets.items() if t == topic)
    assert stored == 10 + accepted
