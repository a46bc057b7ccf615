"""Mutated venue frames through the live parse path: shared by the fuzz test and bench/fuzz.

`mutate` turns a real fixture frame into a hostile one with a seeded RNG (so a failing
seed replays): extreme numbers in place of numbers, byte flips, cuts, repeats, deep
nesting, wrong types. `LivePath` is one venue as the runner holds it: a book from the
venue's REST fixtures, one parser per stream, each frame through
`monitor.sources.frames.parse_frame` (decode hook and parser, HTX gzip included) and
`monitor.bounds.Bounds`.
"""

from __future__ import annotations

import gzip
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from monitor.bounds import Bounds
from monitor.config.sections import AssetSettings
from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick
from monitor.sources.base import FrameParser, Instrument, InstrumentBook, StreamSpec, VenueSpec
from monitor.sources.frames import parse_frame

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
MAX_NS = 2**63 - 1
FIXTURE_SKEW_S = 10 * 365 * 86_400
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
EXTREMES = (
    b"1e308", b"1.7e308", b"1e400", b"-1", b"0", b"-0", b"NaN", b"Infinity", b"-Infinity",
    b"9999999999999", b"99999999999999999999", b"18446744073709551616", b"1e-320",
    b'"1e308"', b'"NaN"', b'"-5"', b'""', b'"x"', b"null", b"true", b"[]", b"{}",
)  # fmt: skip


def mutate(frame: bytes, rng: random.Random) -> bytes:
    """Return `frame` with 1-3 random mutations (numbers, bytes, structure)."""
    out = frame
    for _ in range(rng.randint(1, 3)):
        out = _MUTATIONS[rng.randrange(len(_MUTATIONS))](out, rng)
    return out


def _number(frame: bytes, rng: random.Random) -> bytes:
    spans = [m.span() for m in NUMBER.finditer(frame)]
    if not spans:
        return frame
    a, b = spans[rng.randrange(len(spans))]
    return frame[:a] + rng.choice(EXTREMES) + frame[b:]


def _quoted_number(frame: bytes, rng: random.Random) -> bytes:
    """Replace the inside of a string that holds a number (venues send "0.5")."""
    spans = [m.span(1) for m in re.finditer(rb'"(-?\d[\d.eE+-]*)"', frame)]
    if not spans:
        return _number(frame, rng)
    a, b = spans[rng.randrange(len(spans))]
    return frame[:a] + rng.choice(EXTREMES).strip(b'"') + frame[b:]


def _flip(frame: bytes, rng: random.Random) -> bytes:
    if not frame:
        return frame
    i = rng.randrange(len(frame))
    return frame[:i] + bytes([rng.randrange(256)]) + frame[i + 1 :]


def _cut(frame: bytes, rng: random.Random) -> bytes:
    a = rng.randrange(len(frame) + 1)
    b = min(len(frame), a + rng.randint(1, 16))
    return frame[:a] + frame[b:]


def _repeat(frame: bytes, rng: random.Random) -> bytes:
    a = rng.randrange(len(frame) + 1)
    b = min(len(frame), a + rng.randint(1, 64))
    return frame[:b] + frame[a:b] * rng.randint(1, 4) + frame[b:]


def _truncate(frame: bytes, rng: random.Random) -> bytes:
    return frame[: rng.randrange(len(frame) + 1)]


def _nest(frame: bytes, rng: random.Random) -> bytes:
    depth = rng.choice((10, 1000, 5000))
    spans = [m.span() for m in NUMBER.finditer(frame)] or [(0, 0)]
    a, b = spans[rng.randrange(len(spans))]
    return frame[:a] + b"[" * depth + frame[a:b] + b"]" * depth + frame[b:]


def _retype(frame: bytes, rng: random.Random) -> bytes:
    """Replace a string value with another type (or another string)."""
    spans = [m.span() for m in re.finditer(rb':\s*"[^"]*"', frame)]
    if not spans:
        return _flip(frame, rng)
    a, b = spans[rng.randrange(len(spans))]
    value = rng.choice((b"1", b"null", b"[]", b"{}", b'"SELL"', b'"buy"', b'"ZZZUSDT"', b'""'))
    return frame[:a] + b":" + value + frame[b:]


_MUTATIONS = (
    _number, _number, _quoted_number, _quoted_number, _flip, _cut, _repeat, _truncate,
    _nest, _retype,
)  # fmt: skip


def frames_of(venue: VenueSpec) -> list[bytes]:
    """Return the venue's fixture frames (every payload but the REST catalogue bodies)."""
    return [p.read_bytes() for p in sorted((PAYLOADS / venue.name).glob("*.json"))]


def book_of(venue: VenueSpec) -> InstrumentBook:
    """Return the venue's book built from whichever of its fixtures are catalogue bodies."""
    classes = AssetSettings().classes
    listed: list[Instrument] = []
    if venue.parse_instruments is not None:
        for body in frames_of(venue):
            try:
                listed += venue.parse_instruments(body, classes)
            except Exception:  # noqa: BLE001, S112  (not a catalogue body)
                continue
    return InstrumentBook(venue.name, listed, classes, venue.fallback)


@dataclass
class Counts:
    """What a run of frames through `LivePath.feed` gave."""

    frames: int = 0
    parse_errors: int = 0
    events: int = 0
    rejected: int = 0
    escapes: list[str] = field(default_factory=list)  # exceptions other than ParseError
    non_finite: list[str] = field(default_factory=list)  # events in bounds that are not sane

    def as_dict(self) -> dict[str, int]:
        """Return the counts (escapes and non-finite as counts)."""
        return {
            "frames": self.frames, "parse_errors": self.parse_errors, "events": self.events,
            "rejected": self.rejected, "escapes": len(self.escapes),
            "non_finite": len(self.non_finite),
        }  # fmt: skip


class LivePath:
    """One venue's streams as the runner parses them, plus the bounds."""

    def __init__(self, venue: VenueSpec, ts_recv_ns: int) -> None:
        self.venue = venue
        self.book = book_of(venue)
        self.streams: list[tuple[StreamSpec, FrameParser]] = [
            (s, s.make_parser(self.book)) for s in venue.streams
        ]
        self.ts_recv_ns = ts_recv_ns
        # the fixtures were recorded over years: a skew of ten years keeps their times and
        # still rejects the mutated ones (year 2100, 2286, int64 overflow)
        self.bounds = Bounds(max_clock_skew_s=FIXTURE_SKEW_S)

    def feed(self, text: bytes, counts: Counts) -> None:
        """Send one frame (gzip for a venue with a decode hook) to every stream's parser."""
        for stream, parser in self.streams:
            wire: str | bytes = gzip.compress(text, 1) if stream.decode is not None else text
            counts.frames += 1
            try:
                events = parse_frame(self.venue.name, stream, parser, wire, self.ts_recv_ns)
            except ParseError:
                counts.parse_errors += 1
                continue
            except Exception as exc:  # noqa: BLE001  (what the fuzz looks for)
                counts.escapes.append("%s: %r on %r" % (self.venue.name, exc, text[:200]))
                continue
            self.check(events, text, counts)

    def check(self, events: list[Event], text: bytes, counts: Counts) -> None:
        """Count `events`; note any the bounds keep that is not sane (`insane`)."""
        counts.events += len(events)
        kept, rejected = self.bounds.check(events)
        counts.rejected += len(rejected)
        for event in kept:  # what reaches the windows
            why = insane(event)
            if why:
                counts.non_finite.append("%s: %s in %r" % (self.venue.name, why, text[:200]))


def insane(event: Event) -> str:
    """Return what is wrong with a parsed event (non-finite, not positive, time), or ''."""
    if not isinstance(event, Liquidation | Tick):
        return "not a market event: %r" % (event,)
    if not 0 < event.ts_event_ns <= MAX_NS:
        return "time %r" % event.ts_event_ns
    values = [event.price]
    if isinstance(event, Liquidation):
        values += [event.qty, event.notional_usd]
    elif event.bid is not None or event.ask is not None:
        values += [v for v in (event.bid, event.ask) if v is not None]
    if not all(math.isfinite(v) and v > 0 for v in values):
        return "value %r" % (values,)
    if isinstance(event, Tick):
        extra = [v for v in (event.open_interest_usd, event.funding_rate) if v is not None]
        if not all(math.isfinite(v) for v in extra):
            return "tick extra %r" % (extra,)
    return ""
