"""Open interest by REST polling: one poller loop, a per-venue part that asks and values.

For venues whose WebSocket streams carry no open interest (Binance USDⓈ-M and COIN-M,
HTX). Every ``interval_s`` (``sources.open_interest_poll_s``, 60 s) each watched symbol is
asked once, the requests spread evenly over the interval. The venue part (`OIVenue`) says
how: `OIVenue.prepare` runs once at the start of each round (an all-symbol mark request,
a contract-size catalogue), `OIVenue.read` asks one symbol and returns a `Reading` (a
price and the open interest in USD, at the answer's time). Each reading becomes a `Tick`
with ``price`` and ``open_interest_usd`` for the instrument the venue's WebSocket adapter
names the same way (its ``fallback``), so the engine joins them.

A failed request (network, HTTP status, bad payload, a venue error) is logged once per
kind, counted through ``on_error`` (``liqmon_rest_poll_errors_total{exchange,stream,
reason}``, stream: the endpoint, reason ``http`` or ``parse``) and skipped; a round where no
symbol gave a reading waits a capped, jittered backoff (`Backoff`) before the next. The
poller never raises out of `run` except on cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

import aiohttp

from monitor.bus.base import Publish
from monitor.errors import ParseError
from monitor.events import AssetClass, Tick
from monitor.sources.backoff import Backoff
from monitor.sources.base import Instrument

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

OnError = Callable[[str, str], None]
"""Called with (endpoint, reason) for each failed request."""
Sleep = Callable[[float], Awaitable[None]]
FetchErrors: Final = (aiohttp.ClientError, TimeoutError, OSError, ParseError)


class Get(Protocol):
    """The poller's GET: the parsed answer, or None after the failure was counted."""

    async def __call__(
        self,
        url: str,
        params: Mapping[str, str],
        endpoint: str,
        parse: Callable[[bytes], _T],
    ) -> _T | None:
        """GET `url` with `params`; `endpoint` names it in the metric and the log."""
        ...


@dataclass(frozen=True, slots=True)
class Reading:
    """One symbol's open interest: ``price`` (USD, the tick's), ``oi_usd``, ``ts_ns``."""

    price: float
    oi_usd: float
    ts_ns: int


class OIVenue(Protocol):
    """How to ask one venue for open interest and how to value its answer."""

    @property
    def name(self) -> str:
        """The venue id (``monitor.events.EXCHANGES``), the ticks' ``exchange``."""
        ...

    def instrument(self, symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
        """Return the instrument of venue symbol `symbol` (as the WS adapter names it)."""
        ...

    async def prepare(self, get: Get) -> None:
        """Called once at the start of each round (all-symbol requests)."""
        ...

    async def read(self, get: Get, symbol: str, inst: Instrument) -> Reading | None:
        """Ask for `symbol`'s open interest; None when a request failed or it has none."""
        ...


class OpenInterestPoller:
    """Polls one venue's open interest of `symbols`; publishes `Tick`s (an EventSource).

    Args:
        venue: the venue part (`monitor.sources.binance_oi`, `monitor.sources.htx_oi`).
        symbols: venue symbols (``BTCUSDT``, ``BTCUSD_PERP``, ``BTC-USDT``).
        classes: the ``assets.classes`` table (asset → class).
        interval_s: each symbol is asked once per this many seconds.
        timeout_s: bound on one request, seconds.
        on_error: counts failed requests (endpoint, reason).
        backoff: delays after a round where every symbol failed.
        sleep: awaited between requests (tests pass a fast one).
    """

    def __init__(
        self,
        venue: OIVenue,
        symbols: Sequence[str],
        classes: Mapping[str, AssetClass],
        *,
        interval_s: float = 60.0,
        timeout_s: float = 10.0,
        on_error: OnError | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.venue = venue
        self.instruments: dict[str, Instrument] = {}
        for symbol in dict.fromkeys(symbols):
            inst = venue.instrument(symbol, classes)
            if inst is None:
                logger.warning("open interest: %s is not a %s symbol, not polled",
                               symbol, venue.name)  # fmt: skip
            else:
                self.instruments[symbol] = inst
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self.on_error = on_error or (lambda endpoint, reason: None)
        self.backoff = backoff or Backoff(initial_s=interval_s, max_s=10 * interval_s)
        self.sleep = sleep
        self.errors = 0
        self.published = 0
        self._logged: set[str] = set()

    async def run(self, publish: Publish) -> None:
        """Poll until cancelled: one round per ``interval_s``, backing off while all fail."""
        if not self.instruments:
            return
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        delays = self.backoff()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if await self.poll_round(session, publish):
                    delays = self.backoff()
                else:
                    await self.sleep(next(delays))

    async def poll_round(self, session: aiohttp.ClientSession, publish: Publish) -> int:
        """Ask every symbol once, spread over ``interval_s``; return the ticks published."""
        get = _BoundGet(self, session)
        await self.venue.prepare(get)
        step = self.interval_s / len(self.instruments)
        done = 0
        for symbol, inst in self.instruments.items():
            found = await self.venue.read(get, symbol, inst)
            if found is not None:
                done += await publish([self._tick(inst, found)])
            await self.sleep(step)
        self.published += done
        return done

    def _tick(self, inst: Instrument, found: Reading) -> Tick:
        return Tick(
            exchange=self.venue.name, symbol=inst.symbol, venue_symbol=inst.venue_symbol,
            asset=inst.asset, asset_class=inst.asset_class, price=found.price,
            open_interest_usd=found.oi_usd, ts_event_ns=found.ts_ns, ts_recv_ns=time.time_ns(),
        )  # fmt: skip

    async def _get(
        self,
        session: aiohttp.ClientSession,
        url: str,
        params: Mapping[str, str],
        endpoint: str,
        parse: Callable[[bytes], _T],
    ) -> _T | None:
        """Return the parsed answer, or None after counting and logging the failure."""
        try:
            async with session.get(url, params=params) as resp:
                resp.raise_for_status()
                return parse(await resp.read())
        except FetchErrors as exc:
            reason = "parse" if isinstance(exc, ParseError) else "http"
            self.errors += 1
            self.on_error(endpoint, reason)
            line = "open interest: %s %s %s failed: %s" % (
                self.venue.name, endpoint, " ".join(params.values()), exc,
            )  # fmt: skip
            key = "%s/%s" % (endpoint, reason)
            (logger.debug if key in self._logged else logger.warning)("%s", line)
            self._logged.add(key)
            return None


@dataclass(frozen=True, slots=True)
class _BoundGet:
    """`OpenInterestPoller._get` on one session: the `Get` handed to the venue part."""

    poller: OpenInterestPoller
    session: aiohttp.ClientSession

    async def __call__(
        self,
        url: str,
        params: Mapping[str, str],
        endpoint: str,
        parse: Callable[[bytes], _T],
    ) -> _T | None:
        """GET through the poller (counted, logged, never raising)."""
        return await self.poller._get(self.session, url, params, endpoint, parse)
