"""KafkaSubscription with a stand-in aiokafka consumer: failed commits, the live clock."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, RequestTimedOutError

from monitor.bus.kafka_consumer import KafkaSubscription
from monitor.config import KafkaSettings

TP = TopicPartition("t.liquidations.v1", 0)
OTHER = TopicPartition("t.liquidations.v1", 1)


class FakeConsumer:
    """Holds `TP` and `OTHER`; its commits fail while `failures` lists errors to raise."""

    def __init__(self, failures: list[Exception], polls_ms: dict[TopicPartition, int]) -> None:
        self.failures = failures
        self.polls_ms = polls_ms
        self.committed: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TP, OTHER}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.committed.append(dict(offsets))

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
