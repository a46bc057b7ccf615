"""KafkaSubscription with a stand-in aiokafka consumer: failed commits, the live clock, revokes."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, RequestTimedOutError

from monitor.bus.kafka.consumer import KafkaSubscription
from monitor.bus.kafka.rebalance import RebalanceListener
from monitor.config import KafkaSettings

TP = TopicPartition("t.liquidations.v1", 0)
OTHER = TopicPartition("t.liquidations.v1", 1)


class FakeConsumer:
    """Holds `TP` and `OTHER`; its commits fail while `failures` lists errors to raise."""

    def __init__(self, failures: list[Exception], polls_ms: dict[TopicPartition, int]) -> None:
        self.failures = failures
        self.polls_ms = polls_ms
        self.committed: list[dict[TopicPartition, int]] = []
        self.topics = {TP.topic}  # what the broker's metadata lists

    def assignment(self) -> set[TopicPartition]:
        return {TP, OTHER} if self.topics else set()  # a deleted topic's partitions go

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.committed.append(dict(offsets))

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0, 1} if topic in self.topics else None

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        return self.polls_ms.get(tp)

    async def stop(self) -> None:
        pass


def subscription(consumer: FakeConsumer) -> KafkaSubscription:
    sub = KafkaSubscription(["t.liquidations.v1"], "g", KafkaSettings(), {}, lambda r, n: None)
    fake: Any = consumer
    sub._consumer = fake
    return sub


async def test_a_failed_commit_is_retried_by_the_next_commit_not_raised() -> None:
    # Arrange: the broker is away for two commits
    consumer = FakeConsumer([KafkaConnectionError(), RequestTimedOutError()], {})
    sub = subscription(consumer)
    sub.mark(TP, 10)
    # Act
    await sub.commit()
    sub.mark(OTHER, 3)
    await sub.commit()
    await sub.commit()
    await sub.commit()  # nothing new: nothing sent
    # Assert
    assert sub.commit_failures == 2
    assert consumer.committed == [{TP: 10, OTHER: 3}]
    await sub.stop()


async def test_the_live_clock_stops_at_the_brokers_last_fetch_answer() -> None:
    # Arrange: the broker last answered for TP at 5 s and for OTHER at 9 s; nothing else
    sub = subscription(FakeConsumer([], {TP: 5_000, OTHER: 9_000}))
    wall = 10 * 10**9
    # Act
    clocks = [
        sub.heard_ns([TP], wall),
        sub.heard_ns([OTHER], wall),
        sub.heard_ns([TP, OTHER], wall),
        sub.heard_ns([TopicPartition("t.ticks.v1", 0)], wall),  # not assigned
        sub.heard_ns([OTHER], 8 * 10**9),  # answered after the wall time given
    ]
    # Assert
    assert clocks == [5 * 10**9, 9 * 10**9, 5 * 10**9, wall, 8 * 10**9]
    await sub.stop()


async def test_the_live_clock_stops_while_the_topics_are_missing() -> None:
    # Arrange: the broker answers fetches, then its metadata no longer lists the topic
    consumer = FakeConsumer([], {TP: 9_000})
    sub = subscription(consumer)
    # Act
    before = sub.heard_ns([TP], 10 * 10**9)
    consumer.topics = set()  # deleted at 11 s (by the clock of the next call)
    during = [sub.heard_ns([TP], s * 10**9) for s in (11, 15, 30)]
    missing = sub.missing_topics()
    consumer.topics = {TP.topic}  # created again
    consumer.polls_ms = {TP: 31_000}
    after = sub.heard_ns([TP], 31 * 10**9)
    # Assert
    assert before == 9 * 10**9
    assert during == [11 * 10**9] * 3  # no partition left: held at when the topic went
    assert missing == [TP.topic]
    assert after == 31 * 10**9
    await sub.stop()


async def test_a_revoke_says_so_while_it_waits_for_the_batch_in_progress() -> None:
    # Arrange: a batch is being processed (`records` holds the batch lock meanwhile)
    sub = subscription(FakeConsumer([], {}))
    listener = RebalanceListener(sub)
    async with sub._batch_lock:
        # Act: the group rebalances; the listener waits for the batch
        revoke = asyncio.create_task(listener.on_partitions_revoked({TP}))
        await asyncio.sleep(0.01)
        during = sub.revoking
    await revoke
    # Assert: the batch could see it, and it is over once the partitions are handed on
    assert during
    assert not sub.revoking
    await sub.stop()
