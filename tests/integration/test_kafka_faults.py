"""Broker faults under both roles: a restart and a freeze, with ingest and aggregate running.

One `run_kafka` process (``liqmon run --bus kafka``: ingest and both aggregate stages, live,
HTTP on) on a broker of the test's own, fed by a paced source. The broker is restarted
(stopped, then started on the same ports and data) or frozen (SIGSTOP) and continued. The
producer keeps the production request timeout (30 s), longer than the faults, so what the
ingest buffer took is delivered afterwards. Each test checks that the process rode it out:
``liqmon_bus_broker_up`` went 0 and came back to 1, every stage task is still running,
every event the buffer took is on the topic exactly once, and the aggregate stages read
to the end of every input partition and counted every event once in the engine's windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.bus.kafka.common import partitions_of, physical_topic
from monitor.config import Settings
from monitor.events import TOPIC_LIQUIDATIONS
from monitor.runtime.kafka.roles import KafkaHandle, run_kafka
from tests.integration.conftest import start_broker
from tests.integration.test_kafka_outage import (
    PacedSource,
    role_settings,
    scrape,
    topic_event_ids,
)
from tests.support.kafka_broker import KafkaBroker
from tests.support.wait import until

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

RATE_PER_S = 200
UP = ("liqmon_bus_broker_up", "")


def make_settings(bootstrap: str) -> Settings:
    return role_settings(bootstrap, 50_000, request_timeout_ms=30_000, close_timeout_ms=20_000)


@contextlib.asynccontextmanager
async def both_roles(settings: Settings, source: PacedSource) -> AsyncIterator[KafkaHandle]:
    """Run ingest and aggregate in one process, fed by `source`; yield once they flow."""
    async with run_kafka(
        settings,
        group="g-%s" % uuid.uuid4().hex[:8],
        sources=[source],
        live=True,
        log_alerts=False,
    ) as app:
        cross = app.cross
        assert cross is not None
        await until(lambda: app.bus.delivered > 300 and cross.active, 30)
        yield app


@dataclass
class Outcome:
    """What a test asserts on, gathered while the process ran and after it stopped."""

    up: list[float]  # liqmon_bus_broker_up before, during, after
    alive: list[str]
    crashed: list[str]
    rejected: int
    accepted: list[str]
    on_topic: list[str]
    consumed: bool
    counted_usd: float
    expected_usd: float
    late_rows: int  # summary rows the cross stage dropped: it had closed their second


def market_usd(handle: KafkaHandle) -> float:
    """Return long + short USD in the cross stage's market window of one hour."""
    cross = handle.cross
    assert cross is not None
    long_usd, short_usd = cross.engine.window_usd("market", "market", 3600)
    return long_usd + short_usd


def caught_up(handle: KafkaHandle) -> bool:
    """True when stage 1 read every input partition to the end the producer stored."""
    bucket = handle.bucket
    assert bucket is not None
    kafka = handle.settings.bus.kafka
    topic = physical_topic(kafka, TOPIC_LIQUIDATIONS)
    return all(
        bucket.positions.get((topic, p), 0) >= handle.bus.end_offsets.get((topic, p), 0)
        for p in range(partitions_of(kafka, TOPIC_LIQUIDATIONS))
    )


async def ride_out(
    broker: KafkaBroker, fault: Callable[[KafkaHandle], Awaitable[float]]
) -> Outcome:
    """Run both roles, apply `fault` (returns broker_up seen during it), let it recover."""
    settings = make_settings(broker.bootstrap)
    source = PacedSource(RATE_PER_S)
    async with asyncio.timeout(150):
        async with both_roles(settings, source) as app:
            cross = app.cross
            assert cross is not None
            before = (await scrape(app.http_port))[2][UP]
            # Act
            during = await fault(app)
            await asyncio.sleep(2.0)
            source.stop.set()
            await until(app.sources_done.is_set, 5)
            await until(lambda: app.buffer.depth() == 0 and app.bus.depth() == 0, 40)
            await until(lambda: caught_up(app), 40)
            expected = len(source.accepted) * source.template.notional_usd
            # the cross stage closes a second 7 s (live close lag) after the wall clock passed it
            with contextlib.suppress(TimeoutError):  # the assertions tell what came
                await until(lambda: abs(market_usd(app) - expected) < 1e-6 * expected, 20)
            after = (await scrape(app.http_port))[2][UP]
            outcome = Outcome(
                up=[before, during, after],
                alive=sorted(t.get_name() for t in app.tasks if not t.done()),
                crashed=[
                    t.get_name()
                    for t in app.tasks
                    if t.done() and not t.cancelled() and t.exception() is not None
                ],
                rejected=source.rejected,
                accepted=source.accepted,
                on_topic=[],
                consumed=caught_up(app),
                counted_usd=market_usd(app),
                late_rows=cross.merger.late_rows,
                expected_usd=expected,
            )
    outcome.on_topic = await topic_event_ids(settings)
    return outcome


def assert_rode_it_out(outcome: Outcome) -> None:
    assert outcome.up == [1, 0, 1]
    assert outcome.crashed == []
    assert {"bucket-stage", "cross-stage", "ingest-publisher"} <= set(outcome.alive)
    assert outcome.rejected == 0  # the buffer held the whole fault
    counts = Counter(outcome.on_topic)
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) == set(outcome.accepted)
    assert outcome.consumed
    assert outcome.late_rows == 0
    assert outcome.counted_usd == pytest.approx(outcome.expected_usd, rel=1e-6)  # 1 event: 1e-4


async def wait_for_down(port: int, timeout_s: float) -> float:
    """Return liqmon_bus_broker_up once it reads 0 (or its last value after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    value = 1.0
    while time.monotonic() < deadline:
        value = (await scrape(port))[2][UP]
        if value == 0:
            break
        await asyncio.sleep(0.25)
    return value


async def test_a_broker_restart_is_ridden_out_by_ingest_and_aggregate(tmp_path: Path) -> None:
    # Arrange
    broker = start_broker(tmp_path / "kafka")

    async def restart(app: KafkaHandle) -> float:
        await asyncio.to_thread(broker.stop)
        down = await wait_for_down(app.http_port, 15)
        await asyncio.to_thread(broker.start)
        return down

    try:
        outcome = await ride_out(broker, restart)
    finally:
        broker.stop()
    # Assert
    assert_rode_it_out(outcome)


async def test_a_frozen_broker_is_ridden_out_by_ingest_and_aggregate(tmp_path: Path) -> None:
    # Arrange
    broker = start_broker(tmp_path / "kafka")

    async def freeze(app: KafkaHandle) -> float:
        broker.pause()
        try:
            return await wait_for_down(app.http_port, 15)
        finally:
            await asyncio.sleep(2.0)  # frozen ~8 s: past the commit bound (half a session)
            broker.resume()

    try:
        outcome = await ride_out(broker, freeze)
    finally:
        broker.stop()
    # Assert
    assert_rode_it_out(outcome)
