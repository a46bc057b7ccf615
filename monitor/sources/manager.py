"""Starts every enabled venue: catalogue, connections per stream chunk, and a pump to the bus.

The socket readers hand events to a bounded per-venue `Pump` (an `EventBuffer`) that never
blocks them; the pump's own task publishes to the bus (which may wait up to
``enqueue_timeout_ms``). What does not fit is dropped and counted as ``queue_full``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.bus.base import DropCallback, Publish
from monitor.bus.buffer import EventBuffer
from monitor.clock import Clock
from monitor.config import SourcesSettings
from monitor.errors import ConfigError, SourceError
from monitor.events import AssetClass, Event
from monitor.sources.backoff import Backoff
from monitor.sources.base import Instrument, InstrumentBook, VenueSpec
from monitor.sources.catalogue import fetch_instruments, load_instruments, write_cache
from monitor.sources.fold import UnknownQuota
from monitor.sources.health import FLUSH_S, SourceHealth
from monitor.sources.recorder import Recorder
from monitor.sources.runner import ConnectionRunner, Deduplicator, RunnerPolicy, VenueContext

logger = logging.getLogger(__name__)
PUMP_BATCH = 2048


class Pump:
    """A bounded buffer between socket readers (`put`, never blocks) and the bus (`run`)."""

    def __init__(self, publish: Publish, capacity: int, on_drop: DropCallback) -> None:
        self.publish = publish
        self.capacity = capacity
        self._buffer = EventBuffer(capacity, on_drop)

    def put(self, events: list[Event]) -> None:
        """Queue `events`; drop (and count) what exceeds the capacity."""
        self._buffer.put(events)

    def __len__(self) -> int:
        return len(self._buffer)

    async def run(self) -> None:
        """Publish queued events in batches until cancelled."""
        while True:
            await self.publish(await self._buffer.take(PUMP_BATCH))


@dataclass(frozen=True, slots=True)
class VenuePlan:
    """What will be opened for one venue: its book and, per stream, the topic chunks."""

    venue: VenueSpec
    book: InstrumentBook
    chunks: dict[str, list[list[str]]]


def chunked(topics: Sequence[str], size: int) -> list[list[str]]:
    """Split `topics` into connections of at most `size` topics."""
    return [list(topics[i : i + size]) for i in range(0, len(topics), max(size, 1))]


def plan_venue(
    venue: VenueSpec,
    instruments: Sequence[Instrument],
    classes: Mapping[str, AssetClass],
    quota: UnknownQuota | None = None,
) -> VenuePlan:
    """Return the connections to open for `venue` given its instruments."""
    book = InstrumentBook(venue.name, instruments, classes, venue.fallback, quota)
    chunks: dict[str, list[list[str]]] = {}
    for stream in venue.streams:
        topics = stream.topics(book.all())
        chunks[stream.name] = chunked(topics, stream.max_topics_per_conn) if topics else []
    return VenuePlan(venue, book, chunks)


def select_venues(registry: Mapping[str, VenueSpec], enabled: Sequence[str]) -> list[VenueSpec]:
    """Return the specs of `enabled` venues.

    Raises:
        ConfigError: naming an unknown venue id and the known ones.
    """
    unknown = [v for v in enabled if v not in registry]
    if unknown:
        raise ConfigError(
            "config: sources.enabled: unknown venue %r (known: %s)"
            % (unknown[0], ", ".join(sorted(registry)))
        )
    return [registry[v] for v in enabled]


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What every venue runner shares, built once from the settings."""

    classes: Mapping[str, AssetClass]
    cache_dir: Path
    seeds: Mapping[str, Sequence[str]]
    health: SourceHealth
    policy: RunnerPolicy
    clock: Clock
    capacity: int  # events buffered per venue between readers and the bus
    on_drop: DropCallback
    rest_override: Mapping[str, str]
    endpoint_override: Mapping[str, str]
    rest_timeout_s: float = 10.0
    refresh_s: float = 6 * 3600.0  # catalogue refresh period
    recorder: Recorder | None = None
    quota: UnknownQuota | None = None  # shared by every venue's book


class VenueRunner:
    """Runs every connection of one venue plus its pump (an `EventSource`)."""

    def __init__(self, venue: VenueSpec, options: SourceOptions) -> None:
        self.venue = venue
        self.options = options
        self.plan: VenuePlan | None = None
        self.dedup: Deduplicator | None = None

    async def run(self, publish: Publish) -> None:
        """Load the catalogue, then keep every connection up until cancelled."""
        o, name = self.options, self.venue.name
        instruments = await load_instruments(
            self.venue, o.classes, cache_dir=o.cache_dir, seeds=o.seeds.get(name, ()),
            timeout_s=o.rest_timeout_s, rest_override=o.rest_override.get(name),
        )  # fmt: skip
        plan = plan_venue(self.venue, instruments, o.classes, o.quota)
        self.plan = plan
        if o.recorder is not None:
            o.recorder.catalogue(name, plan.book.all())
        o.health.register(self.venue, {k: len(v) for k, v in plan.chunks.items()})
        pump = Pump(publish, o.capacity, o.on_drop)
        self.dedup = Deduplicator(pump.put)
        policy = o.policy
        if name in o.endpoint_override:
            policy = dataclasses.replace(policy, endpoint_override=o.endpoint_override[name])
        ctx = VenueContext(self.venue, plan.book, self.dedup, o.health, policy, o.clock, o.recorder)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(pump.run(), name="pump-%s" % name)
            tg.create_task(self._refresh_forever(plan.book), name="catalogue-%s" % name)
            tg.create_task(self._flush_forever(), name="health-%s" % name)
            conn_id = 0
            for stream in self.venue.streams:
                for chunk in plan.chunks[stream.name]:
                    runner = ConnectionRunner(ctx, stream, chunk, conn_id)
                    tg.create_task(runner.run(), name="ws-%s-%s-%d" % (name, stream.name, conn_id))
                    conn_id += 1

    async def _flush_forever(self) -> None:
        """Bring the venue's frame metrics up to date every ``FLUSH_S`` seconds."""
        while True:
            await asyncio.sleep(FLUSH_S)
            self.options.health.flush(self.venue.name)

    async def _refresh_forever(self, book: InstrumentBook) -> None:
        """Re-fetch the catalogue every ``refresh_s`` seconds.

        Parsers see new instruments at once; they are subscribed on the next reconnect.
        """
        while True:
            await asyncio.sleep(self.options.refresh_s)
            await self.refresh(book)

    async def refresh(self, book: InstrumentBook) -> int:
        """Fetch the catalogue once into `book` and the cache; return the number of new ones.

        An unreachable venue keeps the current book (logged at WARNING).
        """
        o = self.options
        try:
            fresh = await fetch_instruments(
                self.venue, o.classes, timeout_s=o.rest_timeout_s,
                rest_override=o.rest_override.get(self.venue.name),
            )  # fmt: skip
        except (SourceError, TimeoutError, ValueError) as exc:  # ParseError is a SourceError
            logger.warning("catalogue %s refresh failed, keeping %d instruments: %s",
                           self.venue.name, len(book), exc)  # fmt: skip
            return 0
        if not fresh:
            return 0
        write_cache(o.cache_dir, self.venue.name, fresh)
        new = book.update(fresh)
        if new:
            logger.info("catalogue %s: %d new instruments", self.venue.name, new)
        return new


def build_options(
    settings: SourcesSettings,
    classes: Mapping[str, AssetClass],
    health: SourceHealth,
    clock: Clock,
    on_drop: DropCallback,
    *,
    policy: RunnerPolicy | None = None,
    recorder: Recorder | None = None,
    watch: Sequence[str] = (),
) -> SourceOptions:
    """Return the runner options the settings describe (`policy` overrides for tests).

    `watch` (``assets.watch``) names the assets whose unlisted instruments never fold.
    """
    return SourceOptions(
        classes=classes,
        cache_dir=Path(settings.cache_dir).expanduser(),
        seeds=settings.symbols,
        health=health,
        policy=policy
        or RunnerPolicy(
            backoff=Backoff(settings.backoff_initial_s, settings.backoff_max_s),
            quiet_max_s=settings.quiet_max_s,
        ),
        clock=clock,
        capacity=settings.queue_max_events,
        on_drop=on_drop,
        rest_override=settings.rest_override,
        endpoint_override=settings.endpoint_override,
        rest_timeout_s=settings.rest_timeout_s,
        refresh_s=settings.refresh_s,
        recorder=recorder,
        quota=UnknownQuota(settings.max_unknown_instruments, watch),
    )
