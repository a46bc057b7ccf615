"""Replay of raw venue recordings (``liqmon record`` output) through the live parsers.

Each venue's catalogue line rebuilds the instrument book the live run used; each frame goes
through the same decode-and-parse path (`monitor.sources.runner.parse_frame`) and the same
per-venue deduplication as live, so a recording replays to the events the live run saw.
Frames the parser rejects are counted and skipped, as live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import InputError, ParseError
from monitor.events import AssetClass, Event, Liquidation
from monitor.recent import RecentIds
from monitor.sources.base import FrameParser, InstrumentBook, StreamSpec, VenueSpec
from monitor.sources.frames import parse_frame
from monitor.sources.recorder import CatalogueRecord, read_raw


@dataclass
class RawStats:
    """What a raw replay saw."""

    frames: int = 0
    parse_errors: int = 0
    duplicates: int = 0
    errors_by_stream: dict[str, int] = field(default_factory=dict)


def raw_events(
    path: Path,
    registry: Mapping[str, VenueSpec],
    classes: Mapping[str, AssetClass],
    stats: RawStats | None = None,
) -> Iterator[Event]:
    """Yield the events of a raw recording, in recording order.

    Raises:
        InputError: a malformed line, or a venue or stream this build does not know.
    """
    stats = stats or RawStats()
    books: dict[str, InstrumentBook] = {}
    parsers: dict[tuple[str, str], tuple[StreamSpec, FrameParser]] = {}
    recent: dict[str, RecentIds] = {}
    for lineno, record in enumerate(read_raw(path), start=1):
        if isinstance(record, CatalogueRecord):
            venue = _venue(registry, record.catalogue, path, lineno)
            books[venue.name] = InstrumentBook(
                venue.name, record.instruments, classes, venue.fallback
            )
            continue
        key = (record.exchange, record.stream)
        if key not in parsers:
            venue = _venue(registry, record.exchange, path, lineno)
            book = books.setdefault(
                venue.name, InstrumentBook(venue.name, (), classes, venue.fallback)
            )
            stream = next((s for s in venue.streams if s.name == record.stream), None)
            if stream is None:
                raise InputError(
                    "%s:%d: venue %s has no stream %r" % (path, lineno, venue.name, record.stream)
                )
            parsers[key] = (stream, stream.make_parser(book))
        stream, parser = parsers[key]
        stats.frames += 1
        try:
            events = parse_frame(
                record.exchange, stream, parser, record.payload(), record.ts_recv_ns
            )
        except ParseError:
            stats.parse_errors += 1
            stats.errors_by_stream[record.stream] = stats.errors_by_stream.get(record.stream, 0) + 1
            continue
        seen = recent.setdefault(record.exchange, RecentIds())
        for event in events:
            if isinstance(event, Liquidation) and seen.seen(event.event_id):
                stats.duplicates += 1
                continue
            yield event


def _venue(registry: Mapping[str, VenueSpec], name: str, path: Path, lineno: int) -> VenueSpec:
    venue = registry.get(name)
    if venue is None:
        raise InputError(
            "%s:%d: unknown venue %r (known: %s)"
            % (path, lineno, name, ", ".join(sorted(registry)))
        )
    return venue
