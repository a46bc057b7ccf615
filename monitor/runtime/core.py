"""What every daemon shares, whatever its transport: handle, bounds gate, feeding, readiness.

A daemon (`monitor.runtime.embedded.run_app`, `monitor.runtime.kafka.roles.run_kafka`)
builds a `Runtime` (or a subclass adding its transport), publishes every source through
`gate` and starts the sources with `start_feeders` inside its task group. `/readyz` is
`readiness` over the transport's own checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from prometheus_client import CollectorRegistry

from monitor.bounds import Bounds, bounded
from monitor.bus.base import Publish
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.events import NS, Alert, Event
from monitor.observability.metrics import Metrics
from monitor.observability.source_metrics import SourceMetrics
from monitor.sources.health import SourceHealth
from monitor.sources.manager import VenueRunner

if TYPE_CHECKING:  # aiohttp is imported only by what serves HTTP
    from monitor.observability.http import HttpServer, Readiness


CLOSE_LAG_NS: Final = 5 * NS  # live: an idle second closes this long after wall time


class EventSource(Protocol):
    """Anything that publishes contract events: a venue runner, a replay, a poller."""

    async def run(self, publish: Publish) -> None:
        """Publish events until done (replay) or cancelled (live)."""
        ...


@dataclass(kw_only=True)
class Runtime:
    """What a running daemon exposes to its caller and tests, whatever its transport."""

    settings: Settings
    registry: CollectorRegistry
    metrics: Metrics
    health: SourceHealth
    http: HttpServer | None = None
    venue_runners: list[VenueRunner] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    source_errors: list[MonitorError] = field(default_factory=list)
    sources_done: asyncio.Event = field(default_factory=asyncio.Event)
    warm_start: str = ""  # how the engine started: state restored, klines seeded, priors

    @property
    def http_port(self) -> int:
        """Return the bound HTTP port (after start)."""
        if self.http is None:
            msg = "HTTP is not enabled"
            raise RuntimeError(msg)
        return self.http.port

    def drop(self, reason: str, n: int) -> None:
        """Count `n` events dropped for `reason` (``liqmon_events_dropped_total``)."""
        self.metrics.dropped.labels(reason).inc(n)


def parts(
    settings: Settings, registry: CollectorRegistry | None
) -> tuple[CollectorRegistry, Metrics, SourceHealth]:
    """Return the registry (a fresh one when None), the metrics and the venue health."""
    registry = registry or CollectorRegistry()
    metrics = Metrics(registry, settings.assets.watch, settings.aggregate.windows_s)
    return registry, metrics, SourceHealth(SourceMetrics(registry))


def gate(put: Callable[[Sequence[Event]], Awaitable[int]], runtime: Runtime) -> Publish:
    """Return what every source publishes through: events out of bounds are counted, not sent.

    `put` is the transport's entry (the memory bus, the Kafka ingest buffer); it returns
    how many events it took.
    """
    bounds = Bounds(runtime.settings.sources.max_clock_skew_s)
    return bounded(put, bounds, runtime.health.rejected)


async def feed(source: EventSource, publish: Publish, runtime: Runtime) -> None:
    """Run one source; a `MonitorError` stops only that source.

    The error is recorded on the handle for the caller to report, and what the source
    published before keeps flowing through the pipeline.
    """
    try:
        await source.run(publish)
    except MonitorError as exc:
        runtime.source_errors.append(exc)


def start_feeders(
    tg: asyncio.TaskGroup,
    runtime: Runtime,
    sources: Sequence[EventSource],
    publish: Publish,
    on_done: Callable[[], Awaitable[None]] | None = None,
) -> list[asyncio.Task[None]]:
    """Start one task per source in `tg` (named ``source-<i>``); return them.

    Once every one of them ended (a replay; live sources run until cancelled),
    ``runtime.sources_done`` is set and `on_done` awaited (the memory bus closes there).
    """
    feeders = [
        tg.create_task(feed(src, publish, runtime), name="source-%d" % i)
        for i, src in enumerate(sources)
    ]
    if feeders:
        tg.create_task(_close_when_done(runtime, feeders, on_done), name="sources-done")
    return feeders


async def _close_when_done(
    runtime: Runtime,
    feeders: list[asyncio.Task[None]],
    on_done: Callable[[], Awaitable[None]] | None,
) -> None:
    await asyncio.gather(*feeders, return_exceptions=True)
    runtime.sources_done.set()
    if on_done is not None:
        await on_done()


def readiness(runtime: Runtime, checks: dict[str, str], ok: bool) -> Readiness:
    """``/readyz``: the transport's `checks` and `ok`, then every venue stream and warm start.

    Ready when `ok` and, with venues configured, at least one stream is up.
    """
    from monitor.observability.http import Readiness  # noqa: PLC0415  (called only while HTTP serves)

    checks = {**checks, **runtime.health.checks()}
    if runtime.warm_start:
        checks["warm_start"] = runtime.warm_start
    venues_ok = not runtime.venue_runners or runtime.health.any_up()
    return Readiness(ok and venues_ok, checks)
