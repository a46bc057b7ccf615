"""The one WebSocket runner for every venue: no venue branches here.

For each connection (a chunk of one stream's topics) it connects, sends the stream's
subscribe messages, keeps the venue's application heartbeat, answers server pings that
need an application reply, reads frames into the connection's parser, and hands events to
the sink without ever waiting on the bus. It reconnects with capped, jittered backoff,
counting why (``closed``, ``error``, ``stale``, ``server_5xx``, ``rejected``,
``rotation``), and rotates connections the venue would cut (Binance 24 h) before it does:
the new connection is open and reading before the old one closes, and liquidations are
deduplicated by ``event_id`` across the overlap and across reconnects.

A stream is stale when no frame arrives for ``stale_after_s``. A liquidation stream may
be quiet for long on a calm market; it counts as dead only when no liquidation has arrived
for ``quiet_max_s`` while the same venue's price stream is alive (the 2026 Binance URL
change silently withheld liquidations on connections that stayed open).

The runner's own loop is written out rather than using ``websockets``' reconnecting
iterator because we need the reason of every reconnect for metrics and rotation with
overlap, which that iterator does not expose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidStatus,
    WebSocketException,
)

from monitor.clock import Clock
from monitor.errors import ParseError
from monitor.events import Event, Liquidation
from monitor.recent import RecentIds
from monitor.sources.backoff import Backoff, Delays
from monitor.sources.base import Frame, FrameParser, InstrumentBook, StreamSpec, VenueSpec
from monitor.sources.fold import split_folded
from monitor.sources.frames import decode_frame, parse_text, reply_to
from monitor.sources.health import SourceHealth
from monitor.sources.recorder import Recorder

logger = logging.getLogger(__name__)
Sink = Callable[[list[Event]], None]


@dataclass(frozen=True, slots=True)
class RunnerPolicy:
    """Connection policy, injectable so tests run with millisecond timings."""

    backoff: Delays = field(default_factory=Backoff)
    open_timeout_s: float = 10.0
    ping_interval_s: float | None = 20.0  # WebSocket protocol pings (dead TCP detection)
    quiet_max_s: float = 900.0
    rotation_margin_s: float = 300.0  # rotate this long before the venue's max age
    handover_timeout_s: float = 10.0  # wait this long for the new connection's first frame
    endpoint_override: str | None = None  # "ws://127.0.0.1:8765": same path, another host
    stale_after_s: float | None = None  # overrides every stream's own value (tests)


def override_endpoint(url: str, endpoint: str | None) -> str:
    """Return `url` with its scheme and host:port replaced by `endpoint` (path kept)."""
    if not endpoint:
        return url
    target, original = urlsplit(endpoint), urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, original.path, original.query, ""))


@dataclass(slots=True)
class _Watch:
    """What the staleness watchdog of one reader sees."""

    last_frame: float  # loop time of the last frame
    last_event: float  # clock monotonic time of the last frame that carried events
    stale: bool = False  # set by the watchdog before it cancels the reader


class _Session:
    """One open connection and what its reader knows."""

    def __init__(self, ws: ClientConnection, rotate_at: float | None) -> None:
        self.ws = ws
        self.rotate_at = rotate_at  # monotonic seconds, or None: the venue never cuts it
        self.first_frame = asyncio.Event()


@dataclass(frozen=True, slots=True)
class VenueContext:
    """What every connection of one venue shares."""

    venue: VenueSpec
    book: InstrumentBook
    sink: Sink  # takes parsed events; must not block (it only enqueues)
    health: SourceHealth
    policy: RunnerPolicy
    clock: Clock
    recorder: Recorder | None = None


class ConnectionRunner:
    """Keeps one chunk of one stream connected, forever (until cancelled)."""

    def __init__(
        self, ctx: VenueContext, stream: StreamSpec, topics: Sequence[str], conn_id: int
    ) -> None:
        self.venue, self.stream, self.topics = ctx.venue, stream, list(topics)
        self.book, self.sink, self.health = ctx.book, ctx.sink, ctx.health
        self.policy, self.clock, self.recorder = ctx.policy, ctx.clock, ctx.recorder
        self.conn_id = conn_id
        self.stale_after_s = ctx.policy.stale_after_s or stream.stale_after_s

    async def run(self) -> None:
        """Connect, read, reconnect; returns only when cancelled."""
        delays = self.policy.backoff()
        while True:
            try:
                session = await self._open()
            except (OSError, TimeoutError, WebSocketException) as exc:
                self._failed(_reason_of(exc), exc)
                await asyncio.sleep(next(delays))
                continue
            delays = self.policy.backoff()
            reason = await self._serve(session)
            self._failed(reason, None)
            if reason != "rotation":
                await asyncio.sleep(next(delays))

    def _failed(self, reason: str, exc: BaseException | None) -> None:
        self.health.disconnected(self.venue.name, self.stream.name, self.conn_id, reason, exc)

    async def _open(self) -> _Session:
        url = override_endpoint(self.stream.url(self.topics), self.policy.endpoint_override)
        ws = await connect(
            url,
            open_timeout=self.policy.open_timeout_s,
            ping_interval=self.policy.ping_interval_s,
            ping_timeout=self.policy.ping_interval_s,
            close_timeout=2.0,
            compression=None,  # ×2 receive cost with deflate
            max_size=2**23,
            max_queue=256,
            proxy=None,
        )
        try:
            for message in self.stream.subscribe(self.topics):
                async with asyncio.timeout(self.policy.open_timeout_s):
                    await ws.send(message)
        except (OSError, TimeoutError, WebSocketException):
            await ws.close()
            raise
        self.health.connected(self.venue.name, self.stream.name, self.conn_id, len(self.topics))
        max_age = self.stream.max_age_s
        rotate_at = None
        if max_age is not None:
            rotate_at = self.clock.monotonic() + max(max_age - self.policy.rotation_margin_s, 1.0)
        return _Session(ws, rotate_at)

    async def _serve(self, session: _Session) -> str:
        """Read `session` until it ends; rotate it before the venue's max age."""
        reader = asyncio.create_task(self._read(session), name="read-%s" % self.venue.name)
        beat = asyncio.create_task(self._heartbeat(session.ws), name="beat-%s" % self.venue.name)
        try:
            while True:
                wait_s = None
                if session.rotate_at is not None:
                    wait_s = max(session.rotate_at - self.clock.monotonic(), 0.0)
                done, _ = await asyncio.wait({reader}, timeout=wait_s)
                if done:
                    return reader.result()
                handover = await self._open_successor()
                if handover is None:
                    session.rotate_at = self.clock.monotonic() + 60.0  # try again in a minute
                    continue
                successor, successor_reader = handover
                reader.cancel()
                beat.cancel()
                await _close(session.ws)
                self._failed("rotation", None)
                self.health.connected(
                    self.venue.name, self.stream.name, self.conn_id, len(self.topics)
                )
                session, reader = successor, successor_reader
                beat = asyncio.create_task(
                    self._heartbeat(session.ws), name="beat-%s" % self.venue.name
                )
        finally:
            for task in (reader, beat):
                task.cancel()
            await asyncio.gather(reader, beat, return_exceptions=True)
            await _close(session.ws)

    async def _open_successor(self) -> tuple[_Session, asyncio.Task[str]] | None:
        """Open the next connection and start reading it while the old one still reads.

        Returns once the new connection has delivered a frame (or after
        ``handover_timeout_s``); liquidations seen on both are deduplicated downstream.
        """
        try:
            successor = await self._open()
        except (OSError, TimeoutError, WebSocketException) as exc:
            logger.warning(
                "rotation of %s/%s failed, keeping the old connection: %s",
                self.venue.name, self.stream.name, exc,
            )  # fmt: skip
            return None
        reader = asyncio.create_task(self._read(successor), name="read-%s" % self.venue.name)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.policy.handover_timeout_s):
                await successor.first_frame.wait()
        return successor, reader

    async def _heartbeat(self, ws: ClientConnection) -> None:
        beat = self.stream.heartbeat
        if beat is None:
            return
        while True:
            await asyncio.sleep(beat.interval_s)
            async with asyncio.timeout(self.policy.open_timeout_s):
                await ws.send(beat.payload)

    async def _read(self, session: _Session) -> str:
        """Read frames until the connection ends or goes stale; return the reason.

        Staleness is watched by `_watch`, which cancels this task when a read would have
        timed out: a timeout per frame cost 28 % of the ingest's CPU at 10k frames/s.
        """
        parser = self.stream.make_parser(self.book)
        loop = asyncio.get_running_loop()
        watch = _Watch(loop.time(), self.clock.monotonic())
        reader = asyncio.current_task()
        watchdog = asyncio.create_task(
            self._watch(watch, reader), name="watch-%s" % self.stream.name
        )
        try:
            while True:
                try:
                    raw = await session.ws.recv()
                except ConnectionClosedOK:
                    return "closed"
                except ConnectionClosed:
                    return "error"
                watch.last_frame = loop.time()
                session.first_frame.set()
                carried, reply = self._handle(raw, parser)
                if carried or self.stream.kind == "prices":
                    watch.last_event = self.clock.monotonic()
                if reply is not None:
                    try:
                        async with asyncio.timeout(self.policy.open_timeout_s):
                            await session.ws.send(reply)
                    except (ConnectionClosed, TimeoutError):
                        return "error"
        except asyncio.CancelledError:
            if watch.stale and reader is not None and reader.uncancel() == 0:
                return "stale"
            raise
        finally:
            watchdog.cancel()

    async def _watch(self, watch: _Watch, reader: asyncio.Task[str] | None) -> None:
        """Cancel `reader` once its stream is stale; wakes only when a read would time out.

        A read times out ``stale_after_s`` after the last frame (liquidation streams: or
        when ``quiet_max_s`` without a liquidation runs out, if sooner). A timed-out read
        of a stream that is not stale (quiet, see `_is_stale`) waits again.
        """
        loop = asyncio.get_running_loop()
        since = watch.last_frame
        while True:
            since = max(since, watch.last_frame)
            left = since + self._read_timeout(watch.last_event) - loop.time()
            if left > 0:
                await asyncio.sleep(left)
                continue
            if self._is_stale(watch.last_event):
                watch.stale = True
                if reader is not None:
                    reader.cancel()
                return
            since = loop.time()

    def _read_timeout(self, last_event: float) -> float:
        if self.stream.kind == "prices":
            return self.stale_after_s
        quiet_left = last_event + self.policy.quiet_max_s - self.clock.monotonic()
        return max(min(self.stale_after_s, quiet_left), 0.01)

    def _is_stale(self, last_event: float) -> bool:
        if self.stream.kind == "prices":
            return True
        silent_s = self.clock.monotonic() - last_event
        if silent_s < self.policy.quiet_max_s:
            return False
        # quiet for long: dead only if the same venue's prices are flowing
        return self.health.prices_alive(self.venue.name, self.stale_after_s)

    def _handle(self, raw: Frame, parser: FrameParser) -> tuple[bool, str | None]:
        """Record, decode (once) and parse one frame.

        Returns whether it carried events, and the reply the venue demands, if any.
        """
        ts_recv_ns = self.clock.wall_ns()
        name, stream = self.venue.name, self.stream.name
        if self.recorder is not None:
            self.recorder.frame(ts_recv_ns, name, stream, raw)
        self.health.frame(name, stream, ts_recv_ns)
        try:
            text = decode_frame(name, self.stream, raw)
        except ParseError as exc:
            self.health.parse_error(name, stream, exc)
            return False, None
        try:
            reply = reply_to(name, self.stream, text)
            events = parse_text(name, parser, text, ts_recv_ns)
        except ParseError as exc:
            self.health.parse_error(name, stream, exc)
            return False, None
        if events and self.book.folding:
            events, liqs, ticks = split_folded(events)
            if liqs or ticks:
                self.health.folded(name, liqs, ticks)
        if events:
            self.health.events(name, stream, events, ts_recv_ns)
            self.sink(events)
        return bool(events), reply


class Deduplicator:
    """Drops liquidations whose event_id was seen recently (replays after reconnect)."""

    def __init__(self, sink: Sink, capacity: int = 100_000) -> None:
        self.sink = sink
        self._recent = RecentIds(capacity)
        self.duplicates = 0

    def __call__(self, events: list[Event]) -> None:
        """Forward `events` less the duplicates."""
        fresh = [
            e for e in events if not (isinstance(e, Liquidation) and self._recent.seen(e.event_id))
        ]
        self.duplicates += len(events) - len(fresh)
        if fresh:
            self.sink(fresh)


def _reason_of(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return "server_5xx" if exc.response.status_code >= 500 else "rejected"
    if isinstance(exc, ConnectionClosed):
        return "closed"
    return "error"


async def _close(ws: ClientConnection) -> None:
    with contextlib.suppress(OSError, WebSocketException, TimeoutError):
        async with asyncio.timeout(3.0):
            await ws.close()
