"""Source health: metrics, readiness, and one log line per state change (no log storms)."""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from monitor.bounds import Rejected
from monitor.events import EXCHANGES, NS, Event, Liquidation, Tick
from monitor.observability.source_metrics import SourceMetrics
from monitor.sources.base import VenueSpec

logger = logging.getLogger(__name__)
FLUSH_NS: Final = 50_000_000  # frame counts reach the metrics at least this often (ns)
FLUSH_S: Final = 0.25  # and at least this often while frames wait (seconds)
LAG_SAMPLE_NS: Final = 10_000_000  # the lag histogram takes one event per stream per 10 ms


@dataclass(slots=True)
class _StreamState:
    connections: dict[int, int] = field(default_factory=dict)  # conn id → topics
    expected: int = 0  # connections this stream should have
    last_frame_monotonic: float = 0.0
    registered_monotonic: float = 0.0  # when the stream was declared (its first frame is due)
    stale_after_s: float = 60.0  # no frame for this long: the stream is stalled
    last_reason: str = ""
    last_detail: str = ""  # the error text of the last failure, bounded (for /readyz)
    down_logged: bool = False
    sampled: bool = False
    kind: str = "prices"
    last_second: dict[str, int] = field(default_factory=dict)  # symbol → last second seen
    frames: int = 0  # read since the last flush to the metrics
    last_recv_ns: int = 0  # receive time of the last frame, epoch ns
    flushed_ns: int = 0  # receive time of the last frame flushed, epoch ns
    lag_sampled_ns: int = 0  # receive time of the last lag observation, epoch ns
    # metric children bound once (labels() per frame was ~30 % of an adapter's time)
    messages: Any = None
    last_message: Any = None
    lag: Any = None
    sampled_seconds: Any = None


REJECT_LOG_EVERY_S = 60.0


def _silent_s(state: _StreamState, now: float) -> float:
    """Return seconds since the stream's last frame (since it was declared, before any)."""
    return now - (state.last_frame_monotonic or state.registered_monotonic or now)


def _excerpt(event: Event) -> str:
    text = msgspec.json.encode(event).decode()
    return text if len(text) <= 200 else text[:199] + "…"


_CREDENTIALS = re.compile(r"//[^/@\s]+@")
MAX_DETAIL = 200  # characters of an error text kept for /readyz


def detail_of(exc: BaseException | None) -> str:
    """Return an error's text for ``/readyz``: one line, bounded, no URL credentials."""
    if exc is None:
        return ""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno and exc.errno > 0:
        meaning = os.strerror(exc.errno)  # asyncio says "Connect call failed" for a refusal
        if meaning.lower() not in text.lower():
            text = "%s: %s" % (meaning, text)
    text = _CREDENTIALS.sub("//***@", text)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


class SourceHealth:
    """What the runners report, turned into metrics and `/readyz` checks."""

    def __init__(self, metrics: SourceMetrics) -> None:
        self.metrics = metrics
        self._reject_logged: dict[tuple[str, str], float] = {}
        self._streams: dict[tuple[str, str], _StreamState] = {}

    def register(self, venue: VenueSpec, connections: dict[str, int]) -> None:
        """Declare a venue's streams and how many connections each will open."""
        for stream in venue.streams:
            self.metrics.init_stream(venue.name, stream.name, stream.completeness)
            state = self._state(venue.name, stream.name)
            state.expected = connections.get(stream.name, 0)
            state.sampled = stream.completeness == "sampled"
            state.kind = stream.kind
            state.stale_after_s = stream.stale_after_s
            state.registered_monotonic = time.monotonic()

    def _state(self, exchange: str, stream: str) -> _StreamState:
        state = self._streams.get((exchange, stream))
        if state is None:
            state = self._streams[(exchange, stream)] = _StreamState()
        if state.messages is None:
            m = self.metrics
            state.messages = m.messages.labels(exchange, stream)
            state.last_message = m.last_message.labels(exchange, stream)
            state.lag = m.lag.labels(exchange)
            state.sampled_seconds = m.sampled_symbol_seconds.labels(exchange)
        return state

    def connected(self, exchange: str, stream: str, conn_id: int, topics: int) -> None:
        """A connection opened and subscribed `topics` topics."""
        state = self._state(exchange, stream)
        self._flush(state)
        state.connections[conn_id] = topics
        if state.down_logged or len(state.connections) == 1:
            logger.info("source %s/%s connected (%d topics)", exchange, stream, topics)
        state.down_logged = False
        self._publish(exchange, stream, state)

    def disconnected(
        self, exchange: str, stream: str, conn_id: int, reason: str, exc: BaseException | None
    ) -> None:
        """A connection ended, or a connect failed, for `reason`."""
        state = self._state(exchange, stream)
        self._flush(state)
        state.connections.pop(conn_id, None)
        self.metrics.reconnects.labels(exchange, stream, reason).inc()
        if reason != "rotation" and (not state.down_logged or reason != state.last_reason):
            detail = ": %s" % exc if exc is not None else ""
            logger.warning(
                "source %s/%s down (%s%s); retrying with backoff", exchange, stream, reason, detail
            )
            state.down_logged = True
        state.last_reason = reason
        state.last_detail = detail_of(exc)
        self._publish(exchange, stream, state)

    def _publish(self, exchange: str, stream: str, state: _StreamState) -> None:
        n = len(state.connections)
        self.metrics.connections.labels(exchange, stream).set(n)
        self.metrics.subscriptions.labels(exchange, stream).set(sum(state.connections.values()))
        self.metrics.up.labels(exchange, stream).set(1 if n and n >= state.expected else 0)

    def frame(self, exchange: str, stream: str, ts_recv_ns: int) -> None:
        """Count one frame read at `ts_recv_ns` (epoch ns); called for every frame.

        The count and the last-frame time reach the metrics every ``FLUSH_NS`` of frames
        and when a connection opens or ends, not per frame (the counter's lock and the
        gauge cost 12 % of the ingest's CPU at 20k frames/s).
        """
        state = self._state(exchange, stream)
        state.last_frame_monotonic = time.monotonic()
        state.frames += 1
        state.last_recv_ns = ts_recv_ns
        if ts_recv_ns - state.flushed_ns >= FLUSH_NS:
            self._flush(state)

    def flush(self, exchange: str) -> None:
        """Bring the metrics of `exchange`'s streams up to the last frame read.

        Called every ``FLUSH_S`` by the venue's runner, so a stream that went quiet
        right after a burst still reports every frame.
        """
        for (venue, _), state in self._streams.items():
            if venue == exchange:
                self._flush(state)

    @staticmethod
    def _flush(state: _StreamState) -> None:
        if state.frames:
            state.messages.inc(state.frames)
            state.last_message.set(state.last_recv_ns / 1e9)
            state.frames = 0
            state.flushed_ns = state.last_recv_ns

    def parse_error(self, exchange: str, stream: str, exc: Exception) -> None:
        """Count one bad frame; log the first of a run at WARNING, the rest at DEBUG."""
        self.metrics.parse_errors.labels(exchange, stream).inc()
        logger.debug("parse error on %s/%s: %s", exchange, stream, exc)

    def events(self, exchange: str, stream: str, events: Sequence[Event], ts_recv_ns: int) -> None:
        """Observe lag (one event per ``LAG_SAMPLE_NS``) and, on sampled streams, saturation."""
        state = self._state(exchange, stream)
        if ts_recv_ns - state.lag_sampled_ns >= LAG_SAMPLE_NS:
            for event in events:
                if isinstance(event, Liquidation | Tick):
                    state.lag.observe(max(ts_recv_ns - event.ts_event_ns, 0) / 1e9)
                    state.lag_sampled_ns = ts_recv_ns
                    break
        if not state.sampled:
            return
        for event in events:
            if isinstance(event, Liquidation):
                second = event.ts_event_ns // NS
                if state.last_second.get(event.symbol) != second:
                    state.last_second[event.symbol] = second
                    state.sampled_seconds.inc()

    def prices_alive(self, exchange: str, within_s: float) -> bool:
        """Return True if a price stream of `exchange` read a frame within `within_s`."""
        now = time.monotonic()
        return any(
            now - state.last_frame_monotonic <= within_s
            for (venue, _), state in self._streams.items()
            if venue == exchange and state.kind == "prices" and state.last_frame_monotonic
        )

    def checks(self) -> dict[str, str]:
        """Return one line per stream for ``/readyz``: up, stalled, or down and why."""
        out = {}
        now = time.monotonic()
        for (exchange, stream), state in sorted(self._streams.items()):
            n = len(state.connections)
            silent_s = _silent_s(state, now)
            if n and n >= state.expected and silent_s > state.stale_after_s:
                out["%s/%s" % (exchange, stream)] = (
                    "stalled (no frame for %.0f s, bound %.0f s)"
                    % (
                        silent_s,
                        state.stale_after_s,
                    )
                )
            elif n and n >= state.expected:
                out["%s/%s" % (exchange, stream)] = "up (%d connections)" % n
            else:
                why = state.last_reason or "connecting"
                if state.last_detail:
                    why = "%s: %s" % (why, state.last_detail)
                out["%s/%s" % (exchange, stream)] = "down (%s)" % why
        return out

    def rejected(self, rejected: Sequence[Rejected]) -> None:
        """Count events `monitor.bounds` turned away; log one line per venue and reason a minute."""
        now = time.monotonic()
        for event, reason in rejected:
            exchange = event.exchange if event.exchange in EXCHANGES else "other"
            self.metrics.rejected.labels(exchange, reason).inc()
            key = (exchange, reason)
            if now - self._reject_logged.get(key, -math.inf) >= REJECT_LOG_EVERY_S:
                self._reject_logged[key] = now
                logger.warning(
                    "%s: event out of bounds (%s) skipped: %s (one line per minute; "
                    "liqmon_events_rejected_total counts them all)",
                    exchange, reason, _excerpt(event),
                )  # fmt: skip

    def folded(self, exchange: str, liquidations: int, ticks: int) -> None:
        """Count events folded into ``other``; log one line per venue a minute."""
        exchange = exchange if exchange in EXCHANGES else "other"
        if liquidations:
            self.metrics.folded.labels(exchange, "liquidation").inc(liquidations)
        if ticks:
            self.metrics.folded.labels(exchange, "tick").inc(ticks)
        now = time.monotonic()
        key = (exchange, "folded")
        if now - self._reject_logged.get(key, -math.inf) >= REJECT_LOG_EVERY_S:
            self._reject_logged[key] = now
            logger.warning(
                "%s: unlisted instruments beyond sources.max_unknown_instruments fold into "
                "other (%d liquidations counted as other, %d ticks dropped; one line per "
                "minute, liqmon_assets_folded_total counts them all)",
                exchange, liquidations, ticks,
            )  # fmt: skip

    def any_up(self) -> bool:
        """Return True if a stream has all its connections up and a frame within its bound."""
        now = time.monotonic()
        return any(
            s.connections
            and len(s.connections) >= s.expected
            and _silent_s(s, now) <= s.stale_after_s
            for s in self._streams.values()
        )
