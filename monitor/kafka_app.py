"""Wiring of the Kafka roles: ``ingest``, ``aggregate`` and both in one process.

``ingest``: sources put events into a bounded buffer (`IngestBuffer`, never waiting on
Kafka); one publisher task drains it into `KafkaBus`. While the broker is down the buffer
fills up to ``bus.queue_max_events``; what does not fit is dropped and counted
(``liqmon_events_dropped_total{reason="queue_full"}``); aiokafka retries its batches.

``aggregate``: `monitor.kafka_stages` on the input topics, `monitor.kafka_cross` after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from monitor.alerts.factory import build_sinks, start_sinks, stop_sinks
from monitor.alerts.sinks import AlertSink, LogSink
from monitor.app import AlertRouter, EventSource
from monitor.bounds import Bounds, bounded
from monitor.bus.kafka import KafkaBus
from monitor.bus.kafka_common import physical_topic
from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.errors import BusError, MonitorError
from monitor.events import TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_WINDOWS, Alert, Event
from monitor.http import HttpServer, HttpState, Readiness, split_host_port
from monitor.kafka_cross import CrossStage
from monitor.kafka_stages import BucketStage
from monitor.metrics import Metrics
from monitor.source_metrics import SourceMetrics
from monitor.sources.base import VenueSpec
from monitor.sources.health import SourceHealth
from monitor.sources.manager import VenueRunner, build_options
from monitor.sources.polls import build_rest_polls
from monitor.sources.runner import RunnerPolicy

log = logging.getLogger(__name__)

_PUBLISH_CHUNK = 50_000
# The publisher takes from the buffer at most this often (or linger_ms if longer): each take
# becomes one batch per partition, and every batch costs the broker and the consumers
# (measured on Tansu: 5 ms cycles, ~18 events/batch, fail at 10k/s; 20 ms hold 40k/s).
_PUBLISH_EVERY_S = 0.020
_WATCH_S = 0.5  # refresh of the ingest gauges
_PUBLISHER = "ingest-publisher"  # the task that drains the ingest buffer into Kafka


class IngestBuffer:
    """A bounded FIFO between the sources and the Kafka producer.

    Args:
        max_events: the bound; a put beyond it drops the newest events, counted.
        on_drop: called as ``on_drop("queue_full", n)``.
    """

    def __init__(self, max_events: int, on_drop: Callable[[str, int], None]) -> None:
        self.max_events = max_events
        self._items: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self.closed = False

    async def put(self, events: Sequence[Event]) -> int:
        """Append what fits (never waits); return how many were accepted."""
        room = max(self.max_events - len(self._items), 0)
        taken = list(events[:room])
        self._items.extend(taken)
        if len(events) > room:
            self._on_drop("queue_full", len(events) - room)
        if taken:
            self._ready.set()
        return len(taken)

    async def take(self, limit: int) -> list[Event]:
        """Wait for events (or close); return up to `limit` of them ([] once closed and empty)."""
        while not self._items and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        n = min(limit, len(self._items))
        return [self._items.popleft() for _ in range(n)]

    def close(self) -> None:
        """No more puts; `take` drains what is left, then returns []."""
        self.closed = True
        self._ready.set()

    def depth(self) -> int:
        """Return the number of buffered events."""
        return len(self._items)


@dataclass
class KafkaHandle:
    """What a running Kafka role exposes to its caller and tests."""

    settings: Settings
    registry: CollectorRegistry
    metrics: Metrics
    bus: KafkaBus
    health: SourceHealth
    buffer: IngestBuffer
    bucket: BucketStage | None = None
    cross: CrossStage | None = None
    http: HttpServer | None = None
    alerts: list[Alert] = field(default_factory=list)
    source_errors: list[MonitorError] = field(default_factory=list)
    sources_done: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def http_port(self) -> int:
        """Return the bound HTTP port (after start)."""
        if self.http is None:
            msg = "HTTP is not enabled"
            raise RuntimeError(msg)
        return self.http.port

    async def kill(self) -> None:
        """Stop abruptly, committing and saving nothing more (tests: a crashed process).

        Sends already in the producer are flushed first: a crashed process's in-flight
        requests land or die long before its group notices it is gone (session timeout);
        left running, they could land after the survivor took over, which no crash does.
        """
        for task in self.tasks:
            task.cancel()
        if self.cross is not None and self.cross.state is not None:
            self.cross.state.enabled = False
        await self.bus.flush(self.settings.bus.kafka.request_timeout_ms / 1000)
        for stage in (self.bucket, self.cross):
            if stage is not None:
                await stage.sub.abort()


@contextlib.asynccontextmanager
async def run_kafka(  # noqa: PLR0913, PLR0915  (keyword-only wiring options; one wiring sequence)
    settings: Settings,
    *,
    ingest: bool = True,
    aggregate: bool = True,
    group: str = "liqmon-aggregate",
    sources: Sequence[EventSource] = (),
    venues: Sequence[VenueSpec] = (),
    sinks: Sequence[AlertSink] = (),
    clock: Clock | None = None,
    live: bool = True,
    serve_http: bool = True,
    registry: CollectorRegistry | None = None,
    log_alerts: bool = True,
    policy: RunnerPolicy | None = None,
) -> AsyncIterator[KafkaHandle]:
    """Start the Kafka roles asked for; yield a handle; on exit stop them in order.

    Args:
        settings: the validated configuration (``bus.kafka`` says where the brokers are).
        ingest: run sources → Kafka.
        aggregate: run Kafka → windows → detectors → alerts (both stages).
        group: the consumer group of the aggregate processes.
        sources: extra event sources (a replay) published like the venues.
        venues: venue specs to run live.
        sinks: alert sinks in addition to the log sink.
        clock: the time source of the venue runners.
        live: close idle seconds by the wall clock (off for replays).
        serve_http: serve ``settings.http.listen``.
        registry: the metrics registry (a fresh one when None).
        log_alerts: also log every alert.
        policy: the runners' connection policy (tests inject fast timings).

    Raises:
        BusError: the brokers cannot be reached at start.
    """
    registry = registry or CollectorRegistry()
    metrics = Metrics(registry, settings.assets.watch, settings.aggregate.windows_s)

    def drop(reason: str, n: int) -> None:
        metrics.dropped.labels(reason).inc(n)

    def delivered(outcome: str, n: int) -> None:
        metrics.bus_deliveries.labels("kafka", outcome).inc(n)

    bus = KafkaBus(settings.bus.kafka, on_drop=drop, on_delivery=delivered)
    health = SourceHealth(SourceMetrics(registry))
    buffer = IngestBuffer(settings.bus.queue_max_events, drop)
    handle = KafkaHandle(settings, registry, metrics, bus, health, buffer)
    clock = clock or SystemClock()
    options = build_options(
        settings.sources, settings.assets.classes, health, clock, drop, policy=policy,
        watch=settings.assets.watch,
    )  # fmt: skip
    runners = [VenueRunner(v, options) for v in venues] if ingest else []
    feeders_src: list[EventSource] = [*sources, *runners] if ingest else []
    if ingest and live and venues:  # the live ingest role polls open interest too
        feeders_src += build_rest_polls(settings, None, health.metrics)
    direct = build_sinks(settings.alerts, metrics) if live and aggregate else []
    router = AlertRouter(metrics, [*([LogSink()] * log_alerts), *sinks, *direct], handle.alerts)
    await bus.start()
    if aggregate:
        handle.bucket = BucketStage(bus, settings, metrics, group, live=live)
        handle.cross = CrossStage(bus, settings, metrics, group, router.route, live=live)
    if serve_http:
        host, port = split_host_port(settings.http.listen)
        state = HttpState(
            registry,
            lambda: _readiness(handle, runners),
            _active(handle),
            role=_role(ingest, aggregate),
        )
        handle.http = HttpServer(state, host, port)
        await handle.http.start()
    await start_sinks(direct)
    try:
        async with asyncio.TaskGroup() as tg:
            if handle.bucket is not None and handle.cross is not None:
                handle.tasks.append(tg.create_task(handle.bucket.run(), name="bucket-stage"))
                handle.tasks.append(tg.create_task(handle.cross.run(), name="cross-stage"))
            if ingest:
                handle.tasks.append(tg.create_task(_drain(handle), name=_PUBLISHER))
            handle.tasks.append(tg.create_task(_watch(handle), name="bus-watch"))
            feeders = [
                tg.create_task(_feed(src, handle), name="source-%d" % i)
                for i, src in enumerate(feeders_src)
            ]
            handle.tasks += feeders
            tg.create_task(_close_when_done(handle, feeders), name="sources-done")
            try:
                yield handle
            finally:
                for task in handle.tasks:
                    task.cancel()
    finally:
        router.close()
        await stop_sinks(direct, settings.alerts.stop_timeout_s)
        await bus.close()
        if handle.http is not None:
            await handle.http.stop()


async def _until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():  # noqa: ASYNC110  (state owned by the stage tasks)
                await asyncio.sleep(0.05)
    except TimeoutError:
        msg = "kafka: %s did not happen within %.0f s" % (what, timeout_s)
        raise BusError(msg) from None


async def published_ends(handle: KafkaHandle) -> dict[tuple[str, int], int]:
    """End of ingest (a replay): wait until the sources are done and every event is stored.

    Returns the acknowledged end offset of every partition the handle's bus wrote to.

    Raises:
        BusError: the buffer did not drain or the producer did not flush in time.
    """
    k = handle.settings.bus.kafka
    await handle.sources_done.wait()
    handle.buffer.close()
    # an empty buffer is not enough: the publisher's last take may not be in the producer yet
    done = [t for t in handle.tasks if t.get_name() == _PUBLISHER]
    await _until(lambda: all(t.done() for t in done), k.close_timeout_ms / 1000 + 60, "ingest")
    if not await handle.bus.flush(k.close_timeout_ms / 1000):
        msg = "kafka: %d sends unacknowledged at the end of ingest" % handle.bus.depth()
        raise BusError(msg)
    return dict(handle.bus.end_offsets)


async def drain_to_end(
    handles: Sequence[KafkaHandle], ends: dict[tuple[str, int], int], timeout_s: float = 60.0
) -> None:
    """End of a replay over Kafka: process every record up to `ends`, then close every second.

    Waits until the bucket stages of `handles` (one consumer group) consumed the input
    partitions up to `ends`, flushes their open seconds, waits until the active cross stage
    read every summary, and flushes it: the alerts are then those of the memory replay.

    Raises:
        BusError: a step did not finish within `timeout_s`.
    """
    kafka = handles[0].settings.bus.kafka
    inputs = {physical_topic(kafka, t) for t in (TOPIC_LIQUIDATIONS, TOPIC_TICKS)}
    targets = {tp: end for tp, end in ends.items() if tp[0] in inputs}
    buckets = [h.bucket for h in handles if h.bucket is not None]

    def consumed() -> bool:
        done: dict[tuple[str, int], int] = {}
        for bucket in buckets:
            for tp, pos in bucket.positions.items():
                done[tp] = max(done.get(tp, 0), pos)
        return all(done.get(tp, 0) >= end for tp, end in targets.items())

    await _until(consumed, timeout_s, "consuming the input topics")
    await asyncio.sleep(0.5)  # the last batch's summaries and commits
    for bucket in buckets:
        await bucket.flush()
    windows = physical_topic(kafka, TOPIC_WINDOWS)
    end = max(h.bus.end_offsets.get((windows, 0), 0) for h in handles)
    crosses = [h.cross for h in handles if h.cross is not None]

    def owners() -> list[CrossStage]:
        # `active` is set when a stage rebuilt on gaining the partition and cleared only at
        # its next batch after losing it: the owner is active and holds the partition now
        return [c for c in crosses if c.active and c.sub.assignment()]

    await _until(lambda: len(owners()) == 1, timeout_s, "a cross stage")
    cross = owners()[0]
    await _until(lambda: cross.position >= end, timeout_s, "reading the windows topic")
    await cross.flush()


def _active(handle: KafkaHandle) -> Callable[[], list[Alert]]:
    def active() -> list[Alert]:
        return handle.cross.engine.active_alerts() if handle.cross is not None else []

    return active


async def _feed(source: EventSource, handle: KafkaHandle) -> None:
    """Run one source into the buffer (events out of bounds counted, not sent).

    A `MonitorError` stops only that source.
    """
    bounds = Bounds(handle.settings.sources.max_clock_skew_s)
    try:
        await source.run(bounded(handle.buffer.put, bounds, handle.health.rejected))
    except MonitorError as exc:
        handle.source_errors.append(exc)


async def _close_when_done(handle: KafkaHandle, feeders: list[asyncio.Task[None]]) -> None:
    if not feeders:
        return
    await asyncio.gather(*feeders, return_exceptions=True)
    handle.sources_done.set()


async def _drain(handle: KafkaHandle) -> None:
    """The ingest publisher: buffer → Kafka; waits on the producer, never on the sources.

    One cycle: take what the buffer holds, publish it (one batch per partition), wait until
    the broker acknowledged it (aiokafka has one produce request in flight per broker, so
    taking more meanwhile would only queue smaller batches behind it), and until at least
    ``_PUBLISH_EVERY_S`` passed since the take. Sources never wait: the buffer takes or
    drops.
    """
    buffer, bus, metrics = handle.buffer, handle.bus, handle.metrics
    settle_s = handle.settings.bus.kafka.request_timeout_ms / 1000
    cycle_s = max(handle.settings.bus.kafka.linger_ms / 1000, _PUBLISH_EVERY_S)
    while True:
        events = await buffer.take(_PUBLISH_CHUNK)
        started = time.monotonic()
        if not events:
            return
        try:
            await bus.publish(events, timeout_s=None)
        except BusError as exc:  # BusBackpressure too: the bus counted what it dropped
            log.warning("ingest: %s", exc)
        await bus.settle(settle_s)  # the next batches form while this request is out
        wait_s = cycle_s - (time.monotonic() - started)
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        metrics.queue_depth.labels("kafka").set(buffer.depth() + bus.depth())


async def _watch(handle: KafkaHandle) -> None:
    """Refresh the bus gauges (buffer depth, broker up) of every role, even while it waits."""
    gauge_up = handle.metrics.broker_up.labels("kafka")
    depth = handle.metrics.queue_depth.labels("kafka")
    while True:
        state = handle.bus.broker_state()
        gauge_up.set(0 if state == "down" else 1)
        depth.set(handle.buffer.depth() + handle.bus.depth())
        await asyncio.sleep(_WATCH_S)


def _role(ingest: bool, aggregate: bool) -> str:
    """Return ``ingest``, ``aggregate`` or ``ingest+aggregate`` (the ``/`` page says it)."""
    return "+".join(r for r, on in (("ingest", ingest), ("aggregate", aggregate)) if on)


def _readiness(handle: KafkaHandle, runners: Sequence[VenueRunner]) -> Readiness:
    """Ready while the broker acknowledges and, with venues configured, one of them is up."""
    state = handle.bus.broker_state()
    checks = {
        "bus": "kafka %s: broker %s, %d buffered, %d in flight"
        % (handle.settings.bus.kafka.bootstrap_servers, state, handle.buffer.depth(),
           handle.bus.depth()),
    }  # fmt: skip
    if handle.cross is not None:
        checks["aggregator"] = "cross stage %s" % ("active" if handle.cross.active else "standby")
    checks.update(handle.health.checks())
    venues_ok = not runners or handle.health.any_up()
    return Readiness(state != "down" and venues_ok, checks)
