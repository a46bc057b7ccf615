"""The embedded daemon (``liqmon run``, replays): the runtime core over the in-process bus.

``run_app`` composes `monitor.runtime` with a `MemoryBus`: sources publish to the bus
through the bounds gate; the aggregator task pulls micro-batches, runs the engine and
routes alerts to sinks and metrics; HTTP serves the views. Shutdown: stop sources, drain
the bus, flush the engine, stop HTTP last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from monitor.aggregate.engine import Engine
from monitor.alerts.sinks import AlertSink
from monitor.bus.base import Publish
from monitor.bus.memory import MemoryBus, MemorySubscription
from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.events import INPUT_TOPICS, Alert, Event, Liquidation, Tick
from monitor.runtime import alerts
from monitor.runtime.alerts import AlertRouter
from monitor.runtime.core import (
    CLOSE_LAG_NS,
    EventSource,
    Runtime,
    gate,
    parts,
    readiness,
    start_feeders,
)
from monitor.sources.base import VenueSpec
from monitor.sources.manager import VenueRunner, build_options
from monitor.sources.recorder import Recorder
from monitor.sources.runner import RunnerPolicy
from monitor.state.keeper import StatePlan, keep_state, prepare_engine

if TYPE_CHECKING:  # aiohttp is imported only by what serves HTTP or delivers alerts
    from monitor.observability.http import Readiness
    from monitor.runtime.inputs import MarginInputs

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class AppHandle(Runtime):
    """What a running app exposes to its caller and tests: the runtime, its bus and engine."""

    engine: Engine
    bus: MemoryBus
    pipeline_done: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False


@contextlib.asynccontextmanager
async def run_app(  # noqa: PLR0913  (keyword-only wiring options)
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
        serve_http: serve ``settings.http.listen`` (with the margin POST).
        registry: the metrics registry (a fresh one when None).
        log_alerts: also log every alert (off when the caller prints them already).
        venues: venue specs to run live (`settings.sources` says how).
        policy: the runners' connection policy (tests inject fast timings).
        recorder: write every raw frame to this recorder (``liqmon record``).
        margin_inputs: run the margin calendar watchers, risk-tier pollers and REST polls
            (live daemon; `monitor.runtime.inputs`).
        state_plan: keep state across restarts (restored before anything is consumed, saved
            periodically and at stop) and/or seed price volatility from kline files.
    """
    registry, metrics, health = parts(settings, registry)
    bus = MemoryBus(
        settings.bus.queue_max_events, on_drop=lambda r, n: metrics.dropped.labels(r).inc(n)
    )
    engine = Engine(settings, metrics)
    handle = AppHandle(
        settings=settings, registry=registry, metrics=metrics, health=health, engine=engine,
        bus=bus,
    )  # fmt: skip
    clock = clock or SystemClock()
    options = build_options(
        settings.sources, settings.assets.classes, health, clock, handle.drop, policy=policy,
        recorder=recorder, watch=settings.assets.watch,
    )  # fmt: skip
    handle.venue_runners = [VenueRunner(v, options) for v in venues]
    sources = [*sources, *handle.venue_runners]
    timeout_s = settings.bus.enqueue_timeout_ms / 1000 if live else None

    async def put(events: Sequence[Event]) -> int:
        return await bus.publish(events, timeout_s=timeout_s)

    publish = gate(put, handle)
    subscription = bus.subscribe(INPUT_TOPICS, "aggregate")  # before HTTP: keeps margin POSTs
    async with contextlib.AsyncExitStack() as stack:
        margin = _margin_inputs(settings, publish) if serve_http or margin_inputs else None
        if serve_http and margin is not None:  # first: a busy port fails before warm start
            from monitor.runtime.http import serving  # noqa: PLC0415  (aiohttp)

            await stack.enter_async_context(
                serving(
                    handle, ready=lambda: _readiness(handle, sources),
                    active=engine.active_alerts, role="run" if live else "replay",
                    routes=[margin.route()],
                )
            )  # fmt: skip
        handle.warm_start = "in progress"
        prepared = await prepare_engine(settings, state_plan, engine)
        handle.warm_start = prepared.warm_start
        if margin_inputs and margin is not None:  # live daemon only: these never finish
            from monitor.runtime.inputs import rest_polls  # noqa: PLC0415  (aiohttp)

            sources = [
                *sources, *margin.sources(metrics, clock, lambda: bool(engine.active_alerts())),
                *rest_polls(settings, health, engine.sessions),
            ]  # fmt: skip
        router = await stack.enter_async_context(
            alerts.delivery(
                settings, metrics, handle.alerts, sinks=sinks, log_alerts=log_alerts,
                direct=live, restored=engine.active_alerts(),
            )
        )  # fmt: skip
        aggregator = _Aggregator(handle, subscription, router, clock, live=live)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(aggregator.run(), name="aggregate")
            tg.create_task(keep_state(prepared.keeper, handle.pipeline_done), name="state")
            feeders = start_feeders(tg, handle, sources, publish, on_done=bus.close)
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


def _margin_inputs(settings: Settings, publish: Publish) -> MarginInputs:
    """Return the margin POST, calendars and pollers of a daemon (aiohttp: imported here)."""
    from monitor.runtime.inputs import MarginInputs  # noqa: PLC0415

    return MarginInputs(settings, publish)


def _readiness(handle: AppHandle, sources: Sequence[EventSource]) -> Readiness:
    """Ready while the pipeline runs and, when venues are configured, one of them is up."""
    running = handle.started and not handle.pipeline_done.is_set()
    checks = {
        "aggregator": "running" if running else "stopped",
        "bus": "memory, %d queued" % handle.bus.depth(),
        "sources": "%d configured" % len(sources) if sources else "none configured",
    }
    return readiness(handle, checks, running)


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
        bus = handle.bus  # the depth is read at scrape time
        handle.metrics.queue_depth.labels("memory").set_function(bus.depth)
        self.router = router
        self.clock = clock
        self.live = live

    async def run(self) -> None:
        """Consume until the bus closes, then flush the engine (end of a replay)."""
        h = self.handle
        agg = h.settings.aggregate
        try:
            async for batch in self.subscription.batches(
                agg.micro_batch_max_events, agg.micro_batch_ms
            ):
                started = time.perf_counter()
                alerts = self._process(batch) if batch else []
                if self.live:
                    alerts += h.engine.advance_to(self.clock.wall_ns() - CLOSE_LAG_NS)
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
        """Count one batch (the engine's gauges and the bus depth are read at scrape)."""
        if batch:
            self.handle.metrics.observe_batch(batch, seconds)
