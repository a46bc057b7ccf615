"""Replay: recorded files become a stream of contract events, fed through the same pipeline.

Formats: ``events`` (contract JSON lines), ``binance-klines`` (public kline CSV → ticks),
``binance-oi`` (open-interest history → ticks with OI), ``raw`` (``liqmon record`` frames),
``tardis`` (Tardis.dev liquidations / derivative_ticker CSV); ``auto`` picks by content.
Several files are merged by event time (each file is expected to be in time order;
out-of-order records are handled by the engine's lateness rule). The simulated clock
follows the newest event fed, so the replay runs in the recording's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from monitor.bus.base import Publish
from monitor.clock import SimClock
from monitor.errors import InputError
from monitor.events import AssetClass, Event, event_time_ns
from monitor.io.files import READ_ERRORS, ReadCounter, describe, guarded, open_read, track_reads
from monitor.io.jsonl import EventWriter, read_event_batches, read_events
from monitor.io.klines import read_klines
from monitor.io.open_interest import is_open_interest, read_open_interest
from monitor.io.tardis import is_tardis, read_tardis

Format = Literal["auto", "events", "raw", "binance-klines", "binance-oi", "tardis"]
FORMATS: Final[tuple[str, ...]] = (
    "auto",
    "events",
    "raw",
    "binance-klines",
    "binance-oi",
    "tardis",
)
PUBLISH_BATCH: Final = 4096
FAST_BATCH: Final = 16_384  # --fast: bigger batches cost the engine less per event
_PACED_BATCH_NS: Final = 100_000_000  # with --speed, publish at least every 100 ms of event time


@dataclass(slots=True)
class Progress:
    """Replay progress, updated as events are published; read by the progress line."""

    events: int = 0
    event_time_ns: int = 0
    started_monotonic: float = 0.0
    counters: list[ReadCounter] = field(default_factory=list)  # one per input file

    def rate(self) -> float:
        """Return events per second of wall time so far."""
        elapsed = time.monotonic() - self.started_monotonic
        return self.events / elapsed if elapsed > 0 else 0.0

    def fraction(self) -> float | None:
        """Return the share of the input bytes read (0..1), None when the size is unknown."""
        total = sum(c.total for c in self.counters)
        if not self.counters or total <= 0:
            return None
        return sum(c.position() for c in self.counters) / total

    def eta_s(self) -> float | None:
        """Return the seconds left at the pace so far, None until it can be told."""
        done = self.fraction()
        elapsed = time.monotonic() - self.started_monotonic
        if done is None or done <= 0.01 or elapsed <= 0:
            return None
        return elapsed * (1.0 - done) / done


def detect_format(path: Path) -> Format:
    """Return the format of `path` from its name and first record.

    Raises:
        InputError: when the file cannot be read or matches no known format.
    """
    name = path.name.removesuffix(".gz").removesuffix(".zst")
    try:
        with open_read(path) as stream:
            first = next((line for line in stream if line.strip()), b"")
    except READ_ERRORS as exc:
        raise describe(path, exc) from None
    if is_tardis(first):
        return "tardis"
    if is_open_interest(first):
        return "binance-oi"
    if name.endswith(".csv"):
        return "binance-klines"
    try:
        record = json.loads(first) if first else {}
    except ValueError:
        raise InputError("%s:1: not JSON and not a .csv; pass --format" % path) from None
    if isinstance(record, dict) and "type" in record:
        return "events"
    if isinstance(record, dict) and ({"frame", "frame_b64", "catalogue"} & record.keys()):
        return "raw"
    raise InputError("%s: cannot tell the format; pass --format" % path)


def open_stream(
    path: Path,
    fmt: Format,
    *,
    symbol: str | None,
    classes: Mapping[str, AssetClass],
    cache_dir: Path | None = None,
) -> Iterator[Event]:
    """Return the events of one file in file order (`cache_dir`: instrument catalogues).

    A damaged file (corrupt or truncated compression, bytes that are not UTF-8) ends the
    stream with a one-line `InputError`; the events before it are kept.
    """
    return guarded(path, _open_stream(path, fmt, symbol, classes, cache_dir))


def _open_stream(
    path: Path,
    fmt: Format,
    symbol: str | None,
    classes: Mapping[str, AssetClass],
    cache_dir: Path | None,
) -> Iterator[Event]:
    chosen = detect_format(path) if fmt == "auto" else fmt
    if chosen == "binance-klines":
        return read_klines(path, venue_symbol=symbol, classes=classes)
    if chosen == "binance-oi":
        return read_open_interest(path, venue_symbol=symbol, classes=classes)
    if chosen == "tardis":
        return read_tardis(path, classes, cache_dir)
    if chosen == "raw":
        from monitor.replay.raw import raw_events  # noqa: PLC0415  (imports every venue adapter)
        from monitor.sources import SOURCES  # noqa: PLC0415

        return raw_events(path, SOURCES, classes)
    return read_events(path)


class ReplaySource:
    """Publishes the events of recorded files, merged by event time.

    Args:
        paths: files to replay.
        fmt: their format (``auto`` detects each file's).
        speed: None to go as fast as the pipeline takes it; N to pace event time at N×
            wall time.
        clock: moved to each published event's time.
        symbol: the venue symbol for kline files whose name does not say.
        classes: asset → asset class table.
        events_out: also write every event fed (``--events-out``: raw → events in one step).
        cache_dir: the instrument catalogue cache (contract sizes for Tardis files).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        fmt: Format = "auto",
        speed: float | None = None,
        clock: SimClock | None = None,
        symbol: str | None = None,
        classes: Mapping[str, AssetClass] | None = None,
        events_out: EventWriter | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.paths = list(paths)
        self.fmt = fmt
        self.speed = speed
        self.clock = clock or SimClock()
        self.symbol = symbol
        self.classes = classes or {}
        self.events_out = events_out
        self.cache_dir = cache_dir
        self.progress = Progress()
        with contextlib.suppress(OSError):  # a missing file fails later, with its own error
            self.progress.counters = [track_reads(p) for p in self.paths]

    def events(self) -> Iterator[Event]:
        """Return all files' events merged by event time (stable across runs)."""
        streams = [
            open_stream(
                p, self.fmt, symbol=self.symbol, classes=self.classes, cache_dir=self.cache_dir
            )
            for p in self.paths
        ]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=event_time_ns)

    def batches(self) -> Iterator[list[Event]] | None:
        """Return the events in lists as decoded, when no merge or pacing needs them one by one.

        That is a single contract-events file replayed ``--fast``; otherwise None.
        """
        if self.speed is not None or len(self.paths) != 1:
            return None
        path = self.paths[0]
        if (detect_format(path) if self.fmt == "auto" else self.fmt) != "events":
            return None
        return guarded(path, read_event_batches(path))

    async def run(self, publish: Publish) -> None:
        """Publish every event in batches; raises `InputError` on a bad record."""
        self.progress.started_monotonic = time.monotonic()
        batches = self.batches()
        if batches is not None:
            await self._run_batches(publish, batches)
            return
        first_ts: int | None = None
        batch: list[Event] = []
        try:
            for event in self.events():
                batch.append(event)
                if len(batch) >= PUBLISH_BATCH or (
                    self.speed is not None
                    and event_time_ns(event) - event_time_ns(batch[0]) >= _PACED_BATCH_NS
                ):
                    first_ts = await self._pace(batch, first_ts)
                    await self._publish(publish, batch)
                    batch = []
        except InputError:  # a bad record ends the replay; what came before it is still fed
            if batch:
                await self._publish(publish, batch)
            raise
        if batch:
            await self._pace(batch, first_ts)
            await self._publish(publish, batch)

    async def _run_batches(self, publish: Publish, batches: Iterator[list[Event]]) -> None:
        """Publish decoded lists, joined up to `FAST_BATCH` events, as fast as taken."""
        pending: list[Event] = []
        try:
            for decoded in batches:
                pending += decoded
                if len(pending) >= FAST_BATCH:
                    await self._publish(publish, pending)
                    pending = []
        except InputError:  # a bad record ends the replay; what came before it is still fed
            if pending:
                await self._publish(publish, pending)
            raise
        if pending:
            await self._publish(publish, pending)

    async def _publish(self, publish: Publish, batch: list[Event]) -> None:
        if self.events_out is not None:
            self.events_out.write_all(batch)
        await publish(batch)
        self.clock.set_ns(event_time_ns(batch[-1]))  # the clock never goes back
        self.progress.events += len(batch)
        self.progress.event_time_ns = self.clock.wall_ns()
        await asyncio.sleep(0)  # let the consumer and HTTP run between batches

    async def _pace(self, batch: list[Event], first_ts: int | None) -> int:
        ts = event_time_ns(batch[-1])
        start = first_ts if first_ts is not None else event_time_ns(batch[0])
        if self.speed is not None:
            due = self.progress.started_monotonic + (ts - start) / 1e9 / self.speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return start
