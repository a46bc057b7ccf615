"""Wiring: build the pipeline from `Settings`, run it under one TaskGroup, shut down in order.

``run_app`` is the testable core: sources publish to the bus; the aggregator
task pulls micro-batches, runs the engine and routes alerts to sinks and metrics; HTTP
serves the views. Shutdown: stop sources, drain the bus, flush the engine, stop HTTP last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry

from monitor.aggregate.engine import Engine
from monitor.alerts.sinks import AlertSink, LogSink
from monitor.bounds import Bounds, bounded
from monitor.bus.memory import MemoryBus, MemorySubscription
from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.events import (
    INPUT_TOPICS,
    Alert,
    Event,
    Liquidation,
    Tick,
)
from monitor.metrics import Metrics
from monitor.replay import Publish
from monitor.source_metrics import SourceMetrics
from monitor.sources.base import VenueSpec
from monitor.sources.health import SourceHealth
from monitor.sources.manager import VenueRunner, build_options
from monitor.sources.recorder import Recorder
from monitor.sources.runner import RunnerPolicy
from monitor.state.keeper import StatePlan, keep_state, prepare_engine

if TYPE_CHECKING:  # aiohttp is imported only by what serves HTTP or delivers alerts
    from monitor.alerts.delivery import QueuedSink
    from monitor.http import HttpServer, Readiness

logger = logging.getLogger(__name__)


class EventSource(Protocol):
    """Anything that publishes contract events: a venue runner, a replay, a poller."""

    async def run(self, publish: Publish) -> None:
        """Publish events until done (replay) or cancelled (live)."""
        ...


@dataclass
class AppHandle:
    """What a running app exposes to its caller and tests."""

    settings: Settings
    registry: CollectorRegistry
    metrics: Metrics
    engine: Engine
    bus: MemoryBus
    http: HttpServer | None
    health: SourceHealth
    venue_runners: list[VenueRunner] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    source_errors: list[MonitorError] = field(default_factory=list)
    sources_done: asyncio.Event = field(default_factory=asyncio.Event)
    pipeline_done: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False
    warm_start: str = ""  # how the engine started: state restored, klines seeded, priors

    @property
    def http_port(self) -> int:
        """Return the bound HTTP port (after start)."""
        if self.http is None:
            msg = "HTTP is not enabled"
            raise RuntimeError(msg)
        return self.http.port


class AlertRouter:
    """Sends each alert to metrics, every sink and the handle's history; tracks firing."""

    def __init__(
        self,
        metrics: Metrics,
        sinks: Sequence[AlertSink],
        history: list[Alert],
        restored: Sequence[Alert] = (),
    ) -> None:
        self.metrics = metrics
        self.sinks = list(sinks)
        self.history = history
        self._firing: set[tuple[str, str]] = set()
        self.adopt(restored)  # alerts restored from the state file: firing, already sent

    def adopt(self, alerts: Sequence[Alert]) -> None:
        """Count `alerts` as firing without sending them (restored at start, sent before)."""
        for alert in alerts:
            key = (alert.kind, alert.scope)
            if alert.state == "firing" and key not in self._firing:
                self._firing.add(key)
                self.metrics.alert_active.labels(
                    alert.kind, self.metrics.scope_label(alert.scope)
                ).inc()

    def route(self, alerts: Sequence[Alert]) -> None:
        """Deliver `alerts` in order."""
        for alert in alerts:
            key = (alert.kind, alert.scope)
            delta = 0
            if alert.state == "firing" and key not in self._firing:
                self._firing.add(key)
                delta = 1
            elif alert.state == "resolved" and key in self._firing:
                self._firing.discard(key)
                delta = -1
            self.metrics.observe_alert(alert, delta)
            self.history.append(alert)
            for sink in self.sinks:
                sink.send(alert)

    def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            sink.close()


@contextlib.asynccontextmanager
async def run_app(  # noqa: PLR0913, PLR0915  (keyword-only wiring options; one wiring sequence)
    settings: Settings,
    *,
    sources: Sequence[EventSource] = (),
    sinks: Sequence[AlertSink] = (),
    clock: Clock | None = None,
    live: bool = True,
    serve_http: bool = True,
    registry: CollectorRegistry | None = None,
    log_alerts: bool = True,
    venues: Sequence[VenueSpec] = (),
    policy: RunnerPolicy | None = None,
    recorder: Recorder | None = None,
    margin_inputs: bool = False,
    state_plan: StatePlan | None = None,
) -> AsyncIterator[AppHandle]:
    """Start the pipeline; yield a handle; on exit shut it down in order.

    Args:
        settings: the validated configuration.
        sources: publishers of events; when all finish, the bus closes and the aggregator
            drains and flushes (a replay ends by itself).
        sinks: alert sinks in addition to the always-on log sink.
        clock: the time source (a `SimClock` in replay).
        live: advance windows by the clock while idle (off in replay: event time only).
        serve_http: serve ``settings.http.listen``.
        registry: the metrics registry (a fresh one when None).
        log_alerts: also log every alert (off when the caller prints them already).
        venues: venue specs to run live (`settings.sources` says how).
        policy: the runners' connection policy (tests inject fast timings).
        recorder: write every raw frame to this recorder (``liqmon record``).
        margin_inputs: run the margin calendar watcher and risk-tier pollers (live daemon).
        state_plan: keep state across restarts (restored before anything is consumed, saved
            periodically and at stop) and/or seed price volatility from kline files.
    """
    registry = registry or CollectorRegistry()
    metrics = Metrics(registry, settings.assets.watch, settings.aggregate.windows_s)
    bus = MemoryBus(
        settings.bus.queue_max_events, on_drop=lambda r, n: metrics.dropped.labels(r).inc(n)
    )
    engine = Engine(settings, metrics)
    health = SourceHealth(SourceMetrics(registry))
    handle = AppHandle(settings, registry, metrics, engine, bus, None, health)
    clock = clock or SystemClock()
    options = build_options(
        settings.sources, settings.assets.classes, health, clock,
        lambda r, n: metrics.dropped.labels(r).inc(n), policy=policy, recorder=recorder,
        watch=settings.assets.watch,
    )  # fmt: skip
    handle.venue_runners = [VenueRunner(v, options) for v in venues]
    sources = [*sources, *handle.venue_runners]
    publish = _publisher(bus, settings, live, health)
    subscription = bus.subscribe(INPUT_TOPICS, "aggregate")  # before HTTP: keeps margin POSTs
    if serve_http:
        from monitor.http import HttpServer, HttpState, split_host_port  # noqa: PLC0415
        from monitor.margin.http import margin_route  # noqa: PLC0415

        host, port = split_host_port(settings.http.listen)
        role = "run" if live else "replay"
        state = HttpState(
            registry, lambda: _readiness(handle, sources), engine.active_alerts, role=role
        )
        routes = [margin_route(settings.http.api_token, publish, classes=settings.assets.classes)]
        handle.http = HttpServer(state, host, port, routes=routes)
        await handle.http.start()  # first: a busy port fails before minutes of warm start
    handle.warm_start = "in progress"
    try:
        prepared = await prepare_engine(settings, state_plan, engine)
    except BaseException:
        if handle.http is not None:
            await handle.http.stop()
        raise
    handle.warm_start = prepared.warm_start
    if margin_inputs:  # live daemon only: these sources never finish
        from monitor.margin.wiring import build_margin_sources  # noqa: PLC0415  (aiohttp)

        sources = [
            *sources,
            *build_margin_sources(
                settings.margin, settings.assets.classes,
                alert_open=lambda: bool(engine.active_alerts()), clock=clock,
                on_skip=lambda n: metrics.dropped.labels("decode").inc(n),
                enabled=settings.sources.enabled,
            ),
        ]  # fmt: skip
        from monitor.sources.polls import build_rest_polls  # noqa: PLC0415  (aiohttp)

        sources = [*sources, *build_rest_polls(settings, engine.sessions, health.metrics)]
    direct = _direct_sinks(settings, metrics) if live else []  # replays: no chat spam
    routed: list[AlertSink] = [*([LogSink()] * log_alerts), *sinks, *direct]
    router = AlertRouter(metrics, routed, handle.alerts, restored=engine.active_alerts())
    aggregator = _Aggregator(handle, subscription, router, clock, live=live)
    await _start_sinks(direct)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(aggregator.run(), name="aggregate")
            tg.create_task(keep_state(prepared.keeper, handle.pipeline_done), name="state")
            feeders = [
                tg.create_task(_feed(src, publish, handle), name="source-%d" % i)
                for i, src in enumerate(sources)
            ]
            tg.create_task(_close_when_done(handle, feeders, bus), name="sources-done")
            handle.started = True
            try:
                yield handle
            finally:
                for task in feeders:
                    task.cancel()
                # let every source finish its cancellation (a runner flushes what it holds)
                # before the bus closes: publishing on a closed bus would raise
                await asyncio.gather(*feeders, return_exceptions=True)
                await bus.close()
    finally:
        router.close()
        await _stop_sinks(direct, settings.alerts.stop_timeout_s)
        if handle.http is not None:
            await handle.http.stop()


def _direct_sinks(settings: Settings, metrics: Metrics) -> list[QueuedSink]:
    """Return the configured chat and webhook sinks (live daemons only)."""
    from monitor.alerts.factory import build_sinks  # noqa: PLC0415  (aiohttp: not in replays)

    return build_sinks(settings.alerts, metrics)


async def _start_sinks(direct: list[QueuedSink]) -> None:
    """Start the delivery workers of the chat and webhook sinks (none in replays)."""
    if direct:
        from monitor.alerts.factory import start_sinks  # noqa: PLC0415

        await start_sinks(direct)


async def _stop_sinks(direct: list[QueuedSink], timeout_s: float) -> None:
    """Drain and stop the delivery workers, waiting at most `timeout_s` seconds."""
    if direct:
        from monitor.alerts.factory import stop_sinks  # noqa: PLC0415

        await stop_sinks(direct, timeout_s)


def _publisher(bus: MemoryBus, settings: Settings, live: bool, health: SourceHealth) -> Publish:
    """Return what every source publishes through: events out of bounds are counted, not sent."""
    timeout_s = settings.bus.enqueue_timeout_ms / 1000 if live else None

    async def publish(events: Sequence[Event]) -> int:
        return await bus.publish(events, timeout_s=timeout_s)

    return bounded(publish, Bounds(settings.sources.max_clock_skew_s), health.rejected)


async def _feed(source: EventSource, publish: Publish, handle: AppHandle) -> None:
    """Run one source; a `MonitorError` stops only that source.

    The error is recorded on the handle for the caller to report, and what the source
    published before keeps flowing through the pipeline.
    """
    try:
        await source.run(publish)
    except MonitorError as exc:
        handle.source_errors.append(exc)


async def _close_when_done(
    handle: AppHandle, feeders: list[asyncio.Task[None]], bus: MemoryBus
) -> None:
    if not feeders:
        return
    await asyncio.gather(*feeders)
    handle.sources_done.set()
    await bus.close()


def _readiness(handle: AppHandle, sources: Sequence[EventSource]) -> Readiness:
    """Ready while the pipeline runs and, when venues are configured, one of them is up."""
    from monitor.http import Readiness  # noqa: PLC0415  (called only while HTTP serves)

    running = handle.started and not handle.pipeline_done.is_set()
    checks = {
        "aggregator": "running" if running else "stopped",
        "bus": "memory, %d queued" % handle.bus.depth(),
        "sources": "%d configured" % len(sources) if sources else "none configured",
    }
    checks.update(handle.health.checks())
    if handle.warm_start:
        checks["warm_start"] = handle.warm_start
    venues_ok = not handle.venue_runners or handle.health.any_up()
    return Readiness(running and venues_ok, checks)


class _Aggregator:
    """The aggregate role: bus → engine → alerts, one micro-batch at a time."""

    def __init__(
        self,
        handle: AppHandle,
        subscription: MemorySubscription,
        router: AlertRouter,
        clock: Clock,
        *,
        live: bool,
    ) -> None:
        self.handle = handle
        self.subscription = subscription
        self.router = router
        self.clock = clock
        self.live = live

    async def run(self) -> None:
        """Consume until the bus closes, then flush the engine (end of a replay)."""
        h = self.handle
        agg = h.settings.aggregate
        close_lag_ns = 5 * 1_000_000_000
        try:
            async for batch in self.subscription.batches(
                agg.micro_batch_max_events, agg.micro_batch_ms
            ):
                started = time.perf_counter()
                alerts = self._process(batch) if batch else []
                if self.live:
                    alerts += h.engine.advance_to(self.clock.wall_ns() - close_lag_ns)
                self._observe(batch, time.perf_counter() - started)
                self.router.route(alerts)
                if alerts and self.live:
                    self._latency(batch)
            self.router.route(h.engine.flush())
            self._observe([], 0.0)
        finally:
            h.pipeline_done.set()

    def _process(self, batch: Sequence[Event]) -> list[Alert]:
        """Feed one batch to the engine; a batch the engine cannot take is counted and skipped.

        Bounds at the sources keep such batches out; this is the last guard, so that one
        bad batch never ends the pipeline (``liqmon_events_dropped_total{reason="invalid"}``).
        """
        try:
            return self.handle.engine.process(batch)
        except (ArithmeticError, ValueError, TypeError, KeyError):
            self.handle.metrics.dropped.labels("invalid").inc(len(batch))
            logger.exception("aggregator: skipped a batch of %d events", len(batch))
            return []

    def _latency(self, batch: Sequence[Event]) -> None:
        received = [e.ts_recv_ns for e in batch if isinstance(e, Liquidation | Tick)]
        if received:
            lag_s = (self.clock.wall_ns() - max(received)) / 1e9
            self.handle.metrics.ingest_to_alert.observe(max(lag_s, 0.0))

    def _observe(self, batch: Sequence[Event], seconds: float) -> None:
        m, engine = self.handle.metrics, self.handle.engine
        if batch:
            m.observe_batch(batch, seconds)
        m.queue_depth.labels("memory").set(self.handle.bus.depth())
        if engine.closed_sec is not None:
            m.watermark.set(engine.closed_sec)
        engine.export(m)
