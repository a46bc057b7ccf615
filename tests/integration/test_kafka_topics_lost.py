"""Topics deleted and created again while ``liqmon ingest`` and ``liqmon aggregate`` run.

Two `run_kafka` processes on the session broker (topics of the test's own prefix): ingest
(HTTP on, a paced source) and aggregate (both stages, live, HTTP on). Every contract topic
is deleted with the broker's admin API, left deleted for longer than the producer's request
timeout (6 s here), then created again by an operator (liqmon's own topic creation, as
``liqmon`` does at start). Both processes must stay up and say so on ``/readyz`` and in
``liqmon_bus_broker_up``; ingest keeps what came during the outage in its buffer and
delivers it to the new topics (what the producer held when the topics went is counted as
failed deliveries); aggregate reads the new topics and counts every event on them.

Only the windows topic deleted: stage 1 sends its summaries again until they are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from monitor.bus.kafka.common import ALL_TOPICS, client_options, physical_topic
from monitor.bus.kafka.topics import ensure_topics
from monitor.config import Settings
from monitor.events import TOPIC_WINDOWS
from monitor.runtime.kafka.roles import KafkaHandle, run_kafka
from tests.integration.test_kafka_faults import both_roles, market_usd
from tests.integration.test_kafka_outage import (
    PacedSource,
    role_settings,
    scrape,
    topic_event_ids,
)
from tests.support.wait import until

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

UP = ("liqmon_bus_broker_up", "")
DROPPED = ("liqmon_events_dropped_total", "queue_full")
RATE_PER_S = 200
GONE_S = 15.0  # longer than the request timeout: the producer gives up on what it holds


def make_settings(bootstrap: str) -> Settings:
    # a queue that holds the whole outage; a new group starts at the end, as by default: a
    # recreated topic's partitions must still be read from their start
    return role_settings(
        bootstrap, 50_000, request_timeout_ms=6_000, close_timeout_ms=10_000,
        auto_offset_reset="latest",
    )  # fmt: skip


async def delete_topics(settings: Settings, topics: Sequence[str] = ALL_TOPICS) -> None:
    """Delete contract `topics` of `settings` (an operator's mistake, or a reset)."""
    kafka = settings.bus.kafka
    admin = AIOKafkaAdminClient(**client_options(kafka))
    async with asyncio.timeout(20):
        await admin.start()
        try:
            await admin.delete_topics([physical_topic(kafka, t) for t in topics])
        finally:
            await admin.close()


async def health(app: KafkaHandle) -> tuple[int, float]:
    """Return the /readyz status and liqmon_bus_broker_up of one process."""
    status, _, samples = await scrape(app.http_port)
    return status, samples[UP]


async def wait_for_health(app: KafkaHandle, wanted: tuple[int, float], timeout_s: float) -> None:
    """Return once `app` reports `wanted`; the caller asserts on what it then reads."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while await health(app) != wanted:  # noqa: ASYNC110  (another process's state)
                await asyncio.sleep(0.25)


def crashed(app: KafkaHandle) -> list[str]:
    return [
        t.get_name()
        for t in app.tasks
        if t.done() and not t.cancelled() and t.exception() is not None
    ]


async def test_deleted_and_recreated_topics_are_ridden_out_by_ingest_and_aggregate(
    kafka_bootstrap: str,
) -> None:
    # Arrange: ingest and aggregate running, the aggregate counting what ingest sends
    settings = make_settings(kafka_bootstrap)
    source = PacedSource(RATE_PER_S)
    async with asyncio.timeout(150):
        async with (
            run_kafka(
                settings, aggregate=False, sources=[source], live=True, log_alerts=False
            ) as ingest,
            run_kafka(
                settings,
                ingest=False,
                group="g-%s" % uuid.uuid4().hex[:8],
                live=True,
                log_alerts=False,
            ) as aggregate,
        ):
            assert aggregate.cross is not None
            await until(lambda: ingest.bus.delivered > 300 and aggregate.cross.active, 30)
            before = [await health(ingest), await health(aggregate)]
            # Act: the topics go away for longer than the request timeout, then come back
            await delete_topics(settings)
            gone_at = len(source.accepted)
            deleted = time.monotonic()
            await wait_for_health(ingest, (503, 0), GONE_S)
            await wait_for_health(aggregate, (503, 0), GONE_S)
            during = [await health(ingest), await health(aggregate)]
            await asyncio.sleep(GONE_S - (time.monotonic() - deleted))
            buffered = ingest.buffer.depth()
            await ensure_topics(settings.bus.kafka)
            await wait_for_health(ingest, (200, 1), 20)
            await wait_for_health(aggregate, (200, 1), 20)
            after = [await health(ingest), await health(aggregate)]
            await asyncio.sleep(2.0)
            source.stop.set()
            await until(ingest.sources_done.is_set, 5)
            await until(lambda: ingest.buffer.depth() == 0 and ingest.bus.depth() == 0, 30)
            on_topic = await topic_event_ids(settings)
            expected_usd = len(on_topic) * source.template.notional_usd
            # the cross stage closes a second ~7 s after the wall clock passed it
            with contextlib.suppress(TimeoutError):
                await until(lambda: market_usd(aggregate) >= expected_usd * (1 - 1e-6), 30)
            counted_usd = market_usd(aggregate)
            dropped = (await scrape(ingest.http_port))[2][DROPPED]
            failed = ingest.bus.failed
            late_rows = aggregate.cross.merger.late_rows
            dead = crashed(ingest) + crashed(aggregate)
    print(  # the measured outage, for the record (pytest -s)
        "accepted %d (%d before the deletion), buffered at recreation %d, on the new topics "
        "%d, failed deliveries %d, dropped %d, aggregate counted %.0f of %.0f USD (%d late "
        "summary rows)"
        % (len(source.accepted), gone_at, buffered, len(on_topic), failed, dropped,
           counted_usd, expected_usd, late_rows)
    )  # fmt: skip
    # Assert: both processes rode it out and said so while it lasted
    assert before == [(200, 1), (200, 1)]
    assert during == [(503, 0), (503, 0)]
    assert after == [(200, 1), (200, 1)]
    assert dead == []
    # ingest: what came during the outage waited in the buffer and reached the new topics;
    # only what the producer held when the topics went was given up, counted as failed
    assert buffered > RATE_PER_S * (GONE_S - 8)
    assert source.rejected == 0
    assert dropped == 0
    counts = Counter(on_topic)
    assert [i for i, n in counts.items() if n > 1] == []
    assert set(counts) <= set(source.accepted)
    lost = set(source.accepted[gone_at:]) - set(counts)
    assert len(lost) <= failed < RATE_PER_S
    # aggregate: read the new topics and counted every event on them, once
    assert late_rows == 0
    assert counted_usd == pytest.approx(expected_usd, rel=1e-6)  # one event: ~5e-4


async def test_a_deleted_windows_topic_is_ridden_out_by_the_aggregate(
    kafka_bootstrap: str,
) -> None:
    # Arrange: ingest and aggregate in one process
    settings = make_settings(kafka_bootstrap)
    source = PacedSource(RATE_PER_S)
    async with asyncio.timeout(120):
        async with both_roles(settings, source) as app:
            # Act: only the windows topic (stage 1 -> cross stage) goes, then comes back
            await delete_topics(settings, (TOPIC_WINDOWS,))
            await wait_for_health(app, (503, 0), GONE_S)
            during = await health(app)
            await asyncio.sleep(GONE_S)
            await ensure_topics(settings.bus.kafka)
            await wait_for_health(app, (200, 1), 20)
            after = await health(app)
            usd = market_usd(app)
            with contextlib.suppress(TimeoutError):
                await until(lambda: market_usd(app) > usd, 30)  # the cross stage counts again
            counting = market_usd(app) > usd
            dead = crashed(app)
    # Assert
    assert during == (503, 0)
    assert after == (200, 1)
    assert dead == []
    assert counting
