"""Wiring of the Kafka roles: ``ingest``, ``aggregate`` and both in one process.

Both compose `monitor.runtime` (HTTP, readiness, feeding, alert routing, margin inputs)
with a `KafkaBus`.

``ingest``: sources put events into a bounded buffer (`EventBuffer`, never waiting on
Kafka when live); one publisher task drains it into `KafkaBus`. While the broker is down the
buffer fills up to ``bus.queue_max_events``; what does not fit is dropped and counted
(``liqmon_events_dropped_total{reason="queue_full"}``); aiokafka retries its batches. A
replay's source (``live=False``) waits for room instead: a recording is read much faster
than Kafka takes it, and dropping its tail would change its alerts (the last hours of
``feb-2026`` went missing). Each take of the publisher ends at a margin change, and the
publisher waits for a take's acknowledgement before the next, so a change is stored before
any event that followed it (`monitor.runtime.kafka.margin` relies on that order).

The ingest role owns the margin inputs: ``POST /api/v1/margin-changes`` on its HTTP port
and, with ``margin_inputs``, the calendar watchers and risk-tier pollers; their changes go
through the same buffer to ``liqmon.margin.v1``, each ``event_id`` once per process
(`monitor.runtime.inputs`). The aggregate role runs none of them.

``aggregate``: `monitor.runtime.kafka.stages` on the input topics,
`monitor.runtime.kafka.cross` after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from monitor.alerts.sinks import AlertSink
from monitor.bus.base import Publish
from monitor.bus.buffer import EventBuffer
from monitor.bus.kafka.bus import KafkaBus
from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.errors import BusError
from monitor.events import (
    Alert,
    Event,
    MarginChange,
)
from monitor.observability.http import Readiness
from monitor.runtime import alerts
from monitor.runtime.core import EventSource, Runtime, gate, parts, readiness, start_feeders
from monitor.runtime.http import serving
from monitor.runtime.inputs import MarginInputs, rest_polls
from monitor.runtime.kafka.cross import CrossStage
from monitor.runtime.kafka.stages import BucketStage
from monitor.sources.base import VenueSpec
from monitor.sources.manager import VenueRunner, build_options
from monitor.sources.polls import build_session_sources
from monitor.sources.runner import RunnerPolicy

log = logging.getLogger(__name__)

_PUBLISH_CHUNK = 50_000
# The publisher takes from the buffer at most this often (or linger_ms if longer): each take
# becomes one batch per partition, and every batch costs the broker and the consumers
# (measured on Tansu: 5 ms cycles, ~18 events/batch, fail at 10k/s; 20 ms hold 40k/s).
_PUBLISH_EVERY_S = 0.020
_WATCH_S = 0.5  # refresh of the ingest gauges
PUBLISHER = "ingest-publisher"  # the task that drains the ingest buffer into Kafka


@dataclass(kw_only=True)
class KafkaHandle(Runtime):
    """What a running Kafka role exposes: the runtime, its bus, buffer and stages.

    ``buffer`` is the ingest buffer (an `EventBuffer`); ``bucket`` and ``cross`` are the
    aggregate stages (None in an ingest-only role).
    """

    bus: KafkaBus
    buffer: EventBuffer
    bucket: BucketStage | None = None
    cross: CrossStage | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

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
async def run_kafka(  # noqa: PLR0913  (keyword-only wiring options)
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
    margin_inputs: bool = False,
    idle_empty: bool | None = None,
) -> AsyncIterator[KafkaHandle]:
    """Start the Kafka roles asked for; yield a handle; on exit stop them in order.

    Args:
        settings: the validated configuration (``bus.kafka`` says where the brokers are).
        ingest: run sources → Kafka; with HTTP, serve the margin POST too (its changes go
            to the margin topic through the same buffer).
        aggregate: run Kafka → windows → detectors → alerts (both stages).
        group: the consumer group of the aggregate processes.
        sources: extra event sources (a replay) published like the venues.
        venues: venue specs to run live.
        sinks: alert sinks in addition to the log sink.
        clock: the time source of the venue runners.
        live: close idle seconds by the wall clock, and drop what the ingest buffer cannot
            take (off for replays: event time only, and sources wait for room).
        serve_http: serve ``settings.http.listen``.
        registry: the metrics registry (a fresh one when None).
        log_alerts: also log every alert.
        policy: the runners' connection policy (tests inject fast timings).
        margin_inputs: with `ingest`, run the margin calendar watchers and risk-tier
            pollers (`monitor.runtime.inputs`), publishing to the margin topic.
        idle_empty: with `aggregate`, stage 1 marks input partitions that are empty once
            caught up idle (None: as `live`; on for an aggregate that runs on event time
            over topics a publisher may leave partly empty; see `BucketStage`).

    Raises:
        BusError: the brokers cannot be reached at start.
    """
    handle = _handle(settings, registry)
    bus, metrics, clock = handle.bus, handle.metrics, clock or SystemClock()

    async def put(events: Sequence[Event]) -> int:
        return handle.buffer.put(events)

    publish = gate(put if live else handle.buffer.put_waiting, handle)  # a replay loses nothing
    margin = MarginInputs(settings, publish) if ingest else None  # the ingest role owns them
    feeding: list[EventSource] = []
    if ingest:
        options = build_options(
            settings.sources, settings.assets.classes, handle.health, clock, handle.drop,
            policy=policy, watch=settings.assets.watch,
        )  # fmt: skip
        handle.venue_runners = [VenueRunner(v, options) for v in venues]
        feeding = [*sources, *handle.venue_runners]
        if live and venues:  # the live ingest role polls open interest too
            feeding += rest_polls(settings, handle.health, None)
        if margin is not None and margin_inputs:  # no engine here: the slow poll pace
            feeding += margin.sources(metrics, clock, lambda: bool(_active(handle)()))
    async with contextlib.AsyncExitStack() as stack:
        if serve_http:  # first: a busy port fails before the brokers are asked
            await stack.enter_async_context(
                serving(
                    handle, ready=lambda: _readiness(handle), active=_active(handle),
                    role=_role(ingest, aggregate),
                    routes=[margin.route()] if margin is not None else [],
                )
            )  # fmt: skip
        router = await stack.enter_async_context(
            alerts.delivery(
                settings, metrics, handle.alerts, sinks=sinks, log_alerts=log_alerts,
                direct=live and aggregate,
            )
        )  # fmt: skip
        await bus.start()
        stack.push_async_callback(bus.close)
        if aggregate:
            handle.bucket = BucketStage(
                bus, settings, metrics, group, live=live, idle_empty=idle_empty
            )
            handle.cross = CrossStage(bus, settings, metrics, group, router.route)
        async with asyncio.TaskGroup() as tg:
            handle.tasks += _stage_tasks(tg, handle, settings, publish, live=live)
            if ingest:
                handle.tasks.append(tg.create_task(_drain(handle), name=PUBLISHER))
            handle.tasks.append(tg.create_task(_watch(handle), name="bus-watch"))
            handle.tasks += start_feeders(tg, handle, feeding, publish)
            try:
                yield handle
            finally:
                for task in handle.tasks:
                    task.cancel()


def _handle(settings: Settings, registry: CollectorRegistry | None) -> KafkaHandle:
    """Return the handle of a Kafka role: the runtime's parts, the bus and the buffer."""
    registry, metrics, health = parts(settings, registry)

    def delivered(outcome: str, n: int) -> None:
        metrics.bus_deliveries.labels("kafka", outcome).inc(n)

    def drop(reason: str, n: int) -> None:
        metrics.dropped.labels(reason).inc(n)

    return KafkaHandle(
        settings=settings, registry=registry, metrics=metrics, health=health,
        bus=KafkaBus(settings.bus.kafka, on_drop=drop, on_delivery=delivered),
        buffer=EventBuffer(settings.bus.queue_max_events, drop),
    )  # fmt: skip


def _active(handle: KafkaHandle) -> Callable[[], list[Alert]]:
    def active() -> list[Alert]:
        return handle.cross.engine.active_alerts() if handle.cross is not None else []

    return active


def _stage_tasks(
    tg: asyncio.TaskGroup, handle: KafkaHandle, settings: Settings, publish: Publish, *, live: bool
) -> list[asyncio.Task[None]]:
    """Start the aggregate's two stages and, live, the TradFi session sources of its engines.

    The session sources (schedule fetch, ``tradingSession`` stream) feed the cross stage's
    calendar, which outlives its rebuilt engines; they publish nothing and never finish.
    """
    if handle.bucket is None or handle.cross is None:
        return []
    tasks = [
        tg.create_task(handle.bucket.run(), name="bucket-stage"),
        tg.create_task(handle.cross.run(), name="cross-stage"),
    ]
    if live:
        sources = build_session_sources(settings, handle.cross.sessions, handle.health.metrics)
        tasks += [
            tg.create_task(src.run(publish), name="sessions-%d" % i)
            for i, src in enumerate(sources)
        ]
    return tasks


def _is_margin(event: Event) -> bool:
    return type(event) is MarginChange


async def _drain(handle: KafkaHandle) -> None:
    """The ingest publisher: buffer → Kafka; waits on the producer, never on the sources.

    One cycle: take what the buffer holds, publish it (one batch per partition), wait until
    the broker acknowledged it (aiokafka has one produce request in flight per broker, so
    taking more meanwhile would only queue smaller batches behind it), and until at least
    ``_PUBLISH_EVERY_S`` passed since the take. Sources never wait: the buffer takes or
    drops (a replay's wait for room). A take ends at a margin change, so the change is
    acknowledged before anything after it is sent.
    """
    buffer, bus = handle.buffer, handle.bus
    settle_s = handle.settings.bus.kafka.request_timeout_ms / 1000
    cycle_s = max(handle.settings.bus.kafka.linger_ms / 1000, _PUBLISH_EVERY_S)
    while True:
        events = await buffer.take(_PUBLISH_CHUNK, until=_is_margin)
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


async def _watch(handle: KafkaHandle) -> None:
    """Refresh ``broker_up`` of every role, even while it waits.

    The queue depth (the ingest buffer and the sends in flight) is read at scrape time.
    """
    gauge_up = handle.metrics.broker_up.labels("kafka")
    buffer, bus = handle.buffer, handle.bus
    handle.metrics.queue_depth.labels("kafka").set_function(lambda: buffer.depth() + bus.depth())
    while True:
        state = handle.bus.broker_state()
        gauge_up.set(0 if state == "down" else 1)
        await asyncio.sleep(_WATCH_S)


def _role(ingest: bool, aggregate: bool) -> str:
    """Return ``ingest``, ``aggregate`` or ``ingest+aggregate`` (the ``/`` page says it)."""
    return "+".join(r for r, on in (("ingest", ingest), ("aggregate", aggregate)) if on)


def _readiness(handle: KafkaHandle) -> Readiness:
    """Ready while the broker acknowledges and, with venues configured, one of them is up."""
    state = handle.bus.broker_state()
    checks = {
        "bus": "kafka %s: broker %s, %d buffered, %d in flight"
        % (handle.settings.bus.kafka.bootstrap_servers, state, handle.buffer.depth(),
           handle.bus.depth()),
    }  # fmt: skip
    if handle.cross is not None:
        checks["aggregator"] = "cross stage %s" % ("active" if handle.cross.active else "standby")
    return readiness(handle, checks, state != "down")
