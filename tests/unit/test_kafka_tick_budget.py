"""Stage 1 of the Kafka aggregate keeps its tick budget: an overrun pauses, then resumes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from monitor import config
from monitor.bus.kafka.common import physical_topic
from monitor.codec import encode
from monitor.events import TOPIC_LIQUIDATIONS
from monitor.observability.metrics import Metrics
from monitor.runtime.kafka.stages import BucketStage
from monitor.synth import liquidations


@dataclass
class Record:
    value: bytes
    offset: int


class FakeSubscription:
    """One partition, one batch, then idle polls; commits are slow (5 ms each)."""

    def __init__(self, tp: TopicPartition, value: bytes) -> None:
        self.tp = tp
        self.value = value
        self.calls: list[tuple[str, float]] = []
        self.idle_polls = 0
        self.rebalances = 0

    async def records(self, max_records: int, timeout_ms: int) -> AsyncIterator[Any]:
        del max_records, timeout_ms
        yield {self.tp: [Record(self.value, 0)]}
        while self.idle_polls < 40:  # idle polls for 0.4 s
            self.idle_polls += 1
            await asyncio.sleep(0.01)
            yield {}

    async def commit(self) -> None:
        await asyncio.sleep(0.005)

    def mark(self, tp: TopicPartition, offset: int) -> None:
        del tp, offset

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    def highwater(self, tp: TopicPartition) -> int:
        del tp
        return 1

    def pause(self) -> None:
        self.calls.append(("pause", time.perf_counter()))

    def resume(self) -> None:
        self.calls.append(("resume", time.perf_counter()))


class FakeBus:
    def __init__(self, sub: FakeSubscription) -> None:
        self.sub = sub

    def subscribe(self, topics: object, name: str) -> FakeSubscription:
        del topics, name
        return self.sub

    async def send_raw(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        del topic, key, value
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def depth(self) -> int:
        return 0


async def test_a_batch_over_the_tick_budget_pauses_the_partitions_then_resumes() -> None:
    # Arrange: a 1 ms budget that a 5 ms commit overruns
    settings = config.load(None, env={}, overrides={"aggregate.tick_budget_ms": 1})
    tp = TopicPartition(physical_topic(settings.bus.kafka, TOPIC_LIQUIDATIONS), 0)
    event = next(iter(liquidations(start_ns=10**18, duration_s=10, rate_per_s=5)))
    sub = FakeSubscription(tp, encode(event))
    metrics = Metrics(CollectorRegistry(), settings.assets.watch, settings.aggregate.windows_s)
    stage = BucketStage(FakeBus(sub), settings, metrics, "g", live=False)  # type: ignore[arg-type]
    # Act
    async with asyncio.timeout(5):
        await stage.run()
        await asyncio.sleep(0.05)  # the last pause's resume
    # Assert: paused after the first batch, resumed after the overrun, and so on
    names = [name for name, _ in sub.calls]
    assert names[:2] == ["pause", "resume"]
    assert names == ["pause", "resume"] * (len(names) // 2)
    assert stage.pauses == len(names) // 2
    assert not stage.paused
    assert sub.calls[1][1] - sub.calls[0][1] < 0.05  # the overrun is a few ms


async def test_a_batch_inside_the_tick_budget_does_not_pause() -> None:
    # Arrange: the default budget (1 s)
    settings = config.load(None, env={})
    tp = TopicPartition(physical_topic(settings.bus.kafka, TOPIC_LIQUIDATIONS), 0)
    event = next(iter(liquidations(start_ns=10**18, duration_s=10, rate_per_s=5)))
    sub = FakeSubscription(tp, encode(event))
    metrics = Metrics(CollectorRegistry(), settings.assets.watch, settings.aggregate.windows_s)
    stage = BucketStage(FakeBus(sub), settings, metrics, "g", live=False)  # type: ignore[arg-type]
    # Act
    async with asyncio.timeout(5):
        await stage.run()
    # Assert
    assert sub.calls == []
    assert stage.pauses == 0
