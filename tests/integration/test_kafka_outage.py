"""A broker outage during ingest: the daemon rides it out and loses nothing it buffered.

A dedicated Apache Kafka broker is frozen (SIGSTOP) for 10 s and then continued (SIGCONT),
while a paced source keeps publishing into ``liqmon ingest`` (`run_kafka` with ``ingest``
only, HTTP on), with a buffer smaller than the outage. (`test_kafka_faults` restarts and
freezes a broker under both roles.) The producer's request timeout is longer than the outage, so
aiokafka's in-flight request is answered after the pause, and the publisher, blocked on the
producer meanwhile, resumes from the ingest buffer; what did not fit the buffer is dropped
and counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.config import Settings
from monitor.events import TOPIC_LIQUIDATIONS, Event, Liquidation
from monitor.runtime.kafka.roles import run_kafka
from monitor.synth import liquidations
from tests.integration.conftest import settings_for, start_broker
from tests.support.kafka_read import read_topic
from tests.support.wait import until

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

RATE_PER_S = 400
BUFFER_MAX = 2_500  # below the ~4,000 events of the outage: some are dropped, counted
OUTAGE_S = 10.0


class PacedSource:
    """Publishes distinct liquidations at a fixed pace until stopped; keeps what was taken."""

    def __init__(self, rate_per_s: int) -> None:
        self.rate_per_s = rate_per_s
        self.accepted: list[str] = []
        self.rejected = 0
        self.stop = asyncio.Event()
        template = next(iter(liquidations(start_ns=0, duration_s=60, rate_per_s=5, seed=1)))
        self.template = template

    async def run(self, publish: Callable[[Sequence[Event]], Awaitable[int]]) -> None:
        step_s = 0.02
        per_step = max(1, round(self.rate_per_s * step_s))
        seq = 0
        while not self.stop.is_set():
            now = time.time_ns()
            batch = [
                msgspec.structs.replace(
                    self.template,
                    event_id="outage-%d" % (seq + i),
                    ts_event_ns=now,
                    ts_recv_ns=now,
                )
                for i in range(per_step)
            ]
            seq += per_step
            taken = await publish(batch)
            self.accepted += [e.event_id for e in batch[:taken]]  # type: ignore[union-attr]
            self.rejected += len(batch) - taken
            await asyncio.sleep(step_s)


def role_settings(bootstrap: str, queue_max_events: int, **kafka: object) -> Settings:
    """Settings of a Kafka role for the fault tests: HTTP on a free port, `kafka` options."""
    return config.load(
        None,
        env={},
        overrides={
            "http.listen": "127.0.0.1:0",
            "bus.kind": "kafka",
            "bus.queue_max_events": queue_max_events,
            "bus.kafka": msgspec.to_builtins(settings_for(bootstrap, **kafka)),
        },
    )


def make_settings(bootstrap: str) -> Settings:
    # Producer requests and deliveries outlast the outage (aiokafka answers them after it).
    return role_settings(bootstrap, BUFFER_MAX, request_timeout_ms=40_000, close_timeout_ms=20_000)


async def scrape(port: int) -> tuple[int, str, dict[tuple[str, str], float]]:
    """Return the /readyz status and body, and the kafka-bus samples of /metrics."""
    async with aiohttp.ClientSession() as session:
        async with session.get("http://127.0.0.1:%d/readyz" % port) as resp:
            status, body = resp.status, await resp.text()
        async with session.get("http://127.0.0.1:%d/metrics" % port) as resp:
            text = await resp.text()
    samples = {
        (s.name, s.labels.get("reason", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("bus") == "kafka" or s.name == "liqmon_events_dropped_total"
    }
    return status, body, samples


async def topic_event_ids(settings: Settings) -> list[str]:
    """Read the whole liquidations topic; return the event ids in it (duplicates kept)."""
    events = await read_topic(settings.bus.kafka, TOPIC_LIQUIDATIONS)
    assert all(isinstance(e, Liquidation) for e in events)
    return [e.event_id for e in events if isinstance(e, Liquidation)]


async def test_a_10s_broker_outage_during_ingest_loses_nothing_inside_the_buffer(
    tmp_path: Path,
) -> None:
    # Arrange: a broker of our own, ingest with HTTP, a source at 400 events/s
    broker = start_broker(tmp_path / "kafka")
    try:
        settings = make_settings(broker.bootstrap)
        source = PacedSource(RATE_PER_S)
        async with asyncio.timeout(85):
            async with run_kafka(  # live: the paced source stands for a venue, never waits
                settings, aggregate=False, sources=[source], live=True, log_alerts=False
            ) as app:
                port = app.http_port
                await until(lambda: app.bus.delivered > 500, 15)
                before = await scrape(port)
                # Act: freeze the broker for 10 s while the source keeps publishing
                broker.pause()
                try:
                    await asyncio.sleep(7.0)  # > 5 s without acknowledgement: broker down
                    during = await scrape(port)
                    await asyncio.sleep(OUTAGE_S - 7.0)
                    during_late = await scrape(port)
                finally:
                    broker.resume()
                await asyncio.sleep(2.0)
                source.stop.set()
                await until(app.sources_done.is_set, 5)
                await until(lambda: app.buffer.depth() == 0 and app.bus.depth() == 0, 30)
                after = await scrape(port)
                alive = [t.get_name() for t in app.tasks if not t.done()]
                failed_sends = app.bus.failed
            ids = await topic_event_ids(settings)
    finally:
        broker.stop()
    # Assert: the outage showed in /readyz and /metrics, and did not stop the daemon
    assert before[0] == 200
    assert during[0] == 503
    assert "broker down" in during[1]
    assert during[2][("liqmon_bus_broker_up", "")] == 0
    depth = ("liqmon_bus_queue_depth", "")
    assert during_late[2][depth] >= during[2][depth] > before[2][depth] + 100
    assert after[0] == 200
    assert after[2][("liqmon_bus_broker_up", "")] == 1
    assert "ingest-publisher" in alive
    assert failed_sends == 0
    # every event the buffer took arrived, exactly once; the rest was dropped and counted
    assert source.rejected > 0
    assert after[2][("liqmon_events_dropped_total", "queue_full")] == source.rejected
    counts = Counter(ids)
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) == set(source.accepted)
