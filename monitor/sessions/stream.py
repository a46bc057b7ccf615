"""Binance's ``tradingSession`` WebSocket stream: the current TradFi session, pushed each second.

``wss://fstream.binance.com/market/ws/tradingSession`` (the ``/market`` route) pushes, in
separate messages, the current session of the US equity market (``EquityUpdate``) and of
the commodity market (``CommodityUpdate``) with its start and end
(`monitor.sessions.binance.parse_update`). `SessionStream` folds a push into the engine's
`SessionCalendar` only when it differs from the last one of its market, so a session
change (an unscheduled halt, an early close) is known within a second instead of at the
next daily schedule fetch, and the detection caches keyed on the calendar's version are
not invalidated every second.

Nothing is sent after connecting (the stream is in the path). A connection that delivers
nothing for ``stale_after_s`` is dropped and opened again, like every end, after a capped,
jittered backoff (a fresh sequence after a connection that delivered); the reasons count
in ``liqmon_ws_reconnects_total{exchange="binance_usdm",stream="tradingSession"}``, frames in
``liqmon_ws_messages_received_total`` and bad frames (skipped, logged) in
``liqmon_parse_errors_total`` under the same labels. The stream never raises out of `run`
except on cancellation. The host follows ``sources.endpoint_override.binance_usdm``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException

from monitor.bus.base import Publish
from monitor.errors import ParseError
from monitor.events import NS
from monitor.observability.source_metrics import SourceMetrics
from monitor.sessions.binance import parse_update
from monitor.sessions.calendar import Market, Session, SessionCalendar
from monitor.sources.backoff import Backoff
from monitor.sources.runner import override_endpoint

logger = logging.getLogger(__name__)

STREAM_URL: Final = "wss://fstream.binance.com/market/ws/tradingSession"
STREAM: Final = "tradingSession"
VENUE: Final = "binance_usdm"  # the label its metrics carry


class SessionStream:
    """Keeps `calendar` current from ``tradingSession`` (an EventSource that publishes nothing).

    Args:
        calendar: the engine's calendar.
        endpoint_override: ``ws://host:port`` instead of the venue (tests, proxies).
        stale_after_s: drop a connection silent this long, seconds (the venue pushes each
            second).
        open_timeout_s: bound on opening one connection, seconds.
        metrics: where frames, bad frames and connection ends (by reason: ``closed``,
            ``error``, ``stale``, ``server_5xx``, ``rejected``) are counted; None: nowhere.
        backoff: delays before reconnecting.
        sleep: awaited between connections (tests pass a fast one).
    """

    def __init__(
        self,
        calendar: SessionCalendar,
        *,
        endpoint_override: str | None = None,
        stale_after_s: float = 30.0,
        open_timeout_s: float = 10.0,
        metrics: SourceMetrics | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.calendar = calendar
        self.url = override_endpoint(STREAM_URL, endpoint_override)
        self.stale_after_s, self.open_timeout_s = stale_after_s, open_timeout_s
        self.metrics = metrics
        self.backoff = backoff or Backoff(initial_s=1.0, max_s=60.0)
        self.sleep = sleep
        self.last: dict[Market, Session] = {}  # the last push of each market
        self.frames = 0  # frames read, over every connection
        self.changes = 0  # pushes that changed the calendar
        self.parse_errors = 0

    async def run(self, publish: Publish) -> None:
        """Read the stream until cancelled, reconnecting after every end (`publish` unused)."""
        delays = self.backoff()
        while True:
            frames_before = self.frames
            reason = await self._read_once()
            if self.metrics is not None:
                self.metrics.reconnects.labels(VENUE, STREAM, reason).inc()
            if self.frames > frames_before:
                delays = self.backoff()
            delay = next(delays)
            logger.warning("sessions: Binance tradingSession ended (%s); again in %.0f s",
                           reason, delay)  # fmt: skip
            await self.sleep(delay)

    async def _read_once(self) -> str:
        """Read one connection until it ends; return why it ended (a reconnect reason)."""
        try:
            async with connect(self.url, open_timeout=self.open_timeout_s) as ws:
                while True:
                    async with asyncio.timeout(self.stale_after_s):
                        frame = await ws.recv()
                    self.frames += 1
                    if self.metrics is not None:
                        self.metrics.messages.labels(VENUE, STREAM).inc()
                    self.take(frame)
        except TimeoutError:
            return "stale"
        except ConnectionClosedOK:
            return "closed"
        except InvalidStatus as exc:
            return "server_5xx" if exc.response.status_code >= 500 else "rejected"
        except (OSError, WebSocketException):
            return "error"

    def take(self, frame: str | bytes) -> bool:
        """Fold one push into the calendar; return True if it changed what was known.

        A frame that does not parse is counted, logged (the first, then every 100th) and
        skipped.
        """
        try:
            market, session = parse_update(frame)
        except ParseError as exc:
            self.parse_errors += 1
            if self.metrics is not None:
                self.metrics.parse_errors.labels(VENUE, STREAM).inc()
            if self.parse_errors % 100 == 1:
                logger.warning("sessions: %s (skipped; %d so far)", exc, self.parse_errors)
            return False
        if self.last.get(market) == session:
            return False
        self.last[market] = session
        self.calendar.add(market, [session])
        self.changes += 1
        logger.info("sessions: %s is %s until %d (tradingSession)", market, session.type,
                    session.end_ns // NS)  # fmt: skip
        return True
