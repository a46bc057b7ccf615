"""Binance's published TradFi schedule, fetched daily and cached on disk.

``GET /fapi/v1/tradingSchedule`` (weight 5) answers the sessions of the EQUITY and
COMMODITY markets for about a week (`monitor.sessions.binance.parse_schedule`). The
`ScheduleWatcher` loads the cached answer at start (so a restart without network still
knows this week's holidays), then fetches every ``sessions.schedule_refresh_s`` (a day),
writes the answer atomically to ``<state.dir>/sessions/binance-tradingSchedule.json`` and
folds it into the engine's `SessionCalendar`. Outside what was published, and when nothing
ever was (offline), the calendar's weekly template answers. A failed fetch is logged,
counted (``liqmon_rest_poll_errors_total{stream="tradingSchedule"}``) and retried after a
capped backoff; the watcher never raises out of `run` except on cancellation. The host
follows ``sources.rest_override.binance_usdm``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import aiohttp

from monitor.bus.base import Publish
from monitor.errors import ParseError
from monitor.sessions.binance import parse_schedule
from monitor.sessions.calendar import SessionCalendar
from monitor.sources.backoff import Backoff
from monitor.sources.runner import override_endpoint

logger = logging.getLogger(__name__)

SCHEDULE_URL: Final = "https://fapi.binance.com/fapi/v1/tradingSchedule"
CACHE_NAME: Final = "binance-tradingSchedule.json"
ENDPOINT: Final = "tradingSchedule"
FetchErrors: Final = (aiohttp.ClientError, TimeoutError, OSError, ParseError)


def load_cached(calendar: SessionCalendar, path: Path) -> int:
    """Fold a cached schedule into `calendar`; return the sessions added (0: none usable)."""
    try:
        schedule = parse_schedule(path.read_bytes())
    except FileNotFoundError:
        return 0
    except (OSError, ParseError) as exc:
        logger.warning("sessions: cached schedule %s ignored: %s", path, exc)
        return 0
    return sum(calendar.add(market, sessions) for market, sessions in schedule.items())


class ScheduleWatcher:
    """Keeps `calendar` fed with Binance's schedule (an EventSource that publishes nothing).

    Args:
        calendar: the engine's calendar.
        cache_dir: where the last good answer is kept (``<state.dir>/sessions``).
        rest_override: ``http://host:port`` instead of the venue (tests, proxies).
        refresh_s: seconds between fetches after a success.
        timeout_s: bound on one request, seconds.
        on_error: counts a failed fetch (its reason: ``http`` or ``parse``).
        backoff: delays after failures (a fresh sequence after each success).
        sleep: awaited between fetches (tests pass a fast one).
    """

    def __init__(
        self,
        calendar: SessionCalendar,
        cache_dir: Path,
        *,
        rest_override: str | None = None,
        refresh_s: float = 86_400.0,
        timeout_s: float = 10.0,
        on_error: Callable[[str], None] | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.calendar = calendar
        self.path = cache_dir / CACHE_NAME
        self.url = override_endpoint(SCHEDULE_URL, rest_override)
        self.refresh_s, self.timeout_s = refresh_s, timeout_s
        self.on_error = on_error or (lambda reason: None)
        self.backoff = backoff or Backoff(initial_s=60.0, max_s=3600.0)
        self.sleep = sleep
        self.fetched = 0  # successful fetches
        self.errors = 0

    async def run(self, publish: Publish) -> None:
        """Load the cache, then fetch every ``refresh_s`` until cancelled (`publish` unused)."""
        n = load_cached(self.calendar, self.path)
        if n:
            logger.info("sessions: %d cached Binance sessions loaded from %s", n, self.path)
        delays = self.backoff()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if await self.refresh(session):
                    delays = self.backoff()
                    await self.sleep(self.refresh_s)
                else:
                    await self.sleep(next(delays))

    async def refresh(self, session: aiohttp.ClientSession) -> bool:
        """Fetch, cache and fold the schedule once; return False after a counted failure."""
        try:
            async with session.get(self.url) as resp:
                resp.raise_for_status()
                body = await resp.read()
            schedule = parse_schedule(body)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(body)
            tmp.replace(self.path)
        except FetchErrors as exc:
            self.errors += 1
            self.on_error("parse" if isinstance(exc, ParseError) else "http")
            logger.warning(
                "sessions: Binance tradingSchedule failed (%s); keeping what is known", exc
            )
            return False
        n = sum(self.calendar.add(market, sessions) for market, sessions in schedule.items())
        self.fetched += 1
        logger.info("sessions: %d Binance sessions fetched", n)
        return True
