"""A commit that fails on a real broker is retried by the next commit, never raised.

A consumer-group member (`KafkaSubscription`, as the aggregate stages use it) reads a
topic on a broker of the test's own, then commits while the broker is frozen (SIGSTOP):
the commit is bounded (half a session), fails, is counted and raises nothing. Once the
broker is continued, the next commit stores the offsets the failed one held, and the
member goes on reading what comes next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import client_options, physical_topic
from monitor.config import KafkaSettings
from monitor.events import TOPIC_LIQUIDATIONS, Event
from monitor.synth import liquidations
from tests.integration.conftest import settings_for, start_broker

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

GROUP = "g-commit"


async def group_offsets(kafka: KafkaSettings) -> dict[TopicPartition, int]:
    """Return the offsets the group has committed, as the broker keeps them."""
    admin = AIOKafkaAdminClient(**client_options(kafka))
    async with asyncio.timeout(20):
        await admin.start()
        try:
            found = await admin.list_consumer_group_offsets(GROUP)
        finally:
            await admin.close()
    return {tp: meta.offset for tp, meta in found.items()}


async def read(batches: AsyncIterator[list[Event]], count: int) -> int:
    """Take batches until `count` events came; return how many."""
    got = 0
    while got < count:
        got += len(await anext(batches))
    return got


async def test_a_commit_on_a_frozen_broker_fails_counted_and_the_next_stores_it(
    tmp_path: Path,
) -> None:
    # Arrange: 1,000 events on the topic, read by one member of a group; nothing committed
    broker = start_broker(tmp_path / "kafka")
    kafka = settings_for(broker.bootstrap)  # 10 s sessions: a commit waits at most 5 s
    events: list[Event] = list(liquidations(start_ns=0, duration_s=500, rate_per_s=2, seed=3))
    try:
        async with asyncio.timeout(90), KafkaBus(kafka) as bus:
            await bus.publish(events, timeout_s=None)
            assert await bus.flush(30)
            ends = {TopicPartition(t, p): end for (t, p), end in bus.end_offsets.items()}
            sub = bus.subscribe((TOPIC_LIQUIDATIONS,), GROUP)
            batches = sub.batches(200, 200)
            first = await read(batches, len(events))
            # Act: commit while the broker is frozen, then again once it is back
            broker.pause()
            try:
                await sub.commit()  # must return, not raise
                failed = sub.commit_failures
            finally:
                broker.resume()
            await sub.commit()
            committed = await group_offsets(kafka)
            retried = sub.commit_failures
            await bus.publish(events[:10], timeout_s=None)  # the member reads on
            later = await read(batches, 10)
            await batches.aclose()
    finally:
        broker.stop()
    # Assert
    assert first == len(events)
    assert failed == 1
    assert retried == 1  # the second commit went through
    assert committed == ends
    assert set(ends) == {
        TopicPartition(physical_topic(kafka, TOPIC_LIQUIDATIONS), p) for p in (0, 1)
    }
    assert later == 10
