"""Binance USDⓈ-M open interest by REST polling (its WebSocket streams carry none).

Every ``interval_s`` (``sources.open_interest_poll_s``, 60 s) each watched symbol is asked
once, the requests spread evenly over the interval::

    GET /fapi/v1/premiumIndex                 (all symbols, weight 10, once per round)
    → [{"symbol": "BTCUSDT", "markPrice": "11793.63", "time": 1562566020000, ...}, ...]
    GET /fapi/v1/openInterest?symbol=BTCUSDT   (weight 1 per symbol)
    → {"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}

``openInterest`` is in contracts, which on USDⓈ-M are base units, so the USD value is
openInterest × the round's mark price (a symbol missing from the all-symbol answer is
asked for its own, weight 1). Each answer becomes a `Tick` at the answer's ``time`` with
``price`` = that mark and ``open_interest_usd``; the engine buckets it with the streamed
marks. At 60 s and the default seven symbols that is 17 of the 2,400 weight a minute.
The host follows ``sources.rest_override.binance_usdm`` (tests: a local server).

A failed request (network, HTTP status, bad payload) is logged once per kind, counted in
``liqmon_rest_poll_errors_total{exchange,stream,reason}`` (stream: the endpoint) and
skipped; a round where every request failed waits a capped, jittered backoff (`Backoff`)
before the next. The poller never raises out of `run` except on cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypeVar

import aiohttp
import msgspec

from monitor.bus.base import Publish
from monitor.errors import ParseError
from monitor.events import AssetClass, Tick
from monitor.sources import binance_usdm
from monitor.sources.backoff import Backoff
from monitor.sources.base import Instrument, excerpt
from monitor.sources.runner import override_endpoint

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

OI_URL: Final = "https://fapi.binance.com/fapi/v1/openInterest"
MARK_URL: Final = "https://fapi.binance.com/fapi/v1/premiumIndex"
VENUE: Final = binance_usdm.NAME
_MS: Final = 1_000_000
OnError = Callable[[str, str], None]
"""Called with (endpoint, reason) for each failed request."""
Sleep = Callable[[float], Awaitable[None]]


class _OpenInterest(msgspec.Struct, frozen=True):
    symbol: str
    openInterest: str  # contracts (base units on USDⓈ-M)
    time: int  # ms


class _Mark(msgspec.Struct, frozen=True):
    symbol: str
    markPrice: str
    time: int = 0  # ms


_OI = msgspec.json.Decoder(_OpenInterest)
_MARKS = msgspec.json.Decoder(list[_Mark] | _Mark)
FetchErrors: Final = (aiohttp.ClientError, TimeoutError, OSError, ParseError)


def parse_open_interest(payload: bytes) -> tuple[str, float, int]:
    """Return (symbol, open interest in contracts, time in ns) of one ``openInterest`` answer."""
    try:
        row = _OI.decode(payload)
        oi = float(row.openInterest)
    except (msgspec.DecodeError, ValueError) as exc:
        raise ParseError("binance openInterest: %s: %s" % (exc, excerpt(payload))) from None
    if not (oi >= 0.0 and row.time > 0):
        raise ParseError("binance openInterest: out of range: %s" % excerpt(payload))
    return row.symbol, oi, row.time * _MS


def parse_marks(payload: bytes) -> dict[str, float]:
    """Return mark price by symbol of a ``premiumIndex`` answer (one row or all)."""
    try:
        rows = _MARKS.decode(payload)
        rows = rows if isinstance(rows, list) else [rows]
        marks = {r.symbol: float(r.markPrice) for r in rows}
    except (msgspec.DecodeError, ValueError) as exc:
        raise ParseError("binance premiumIndex: %s: %s" % (exc, excerpt(payload))) from None
    return {s: p for s, p in marks.items() if p > 0.0}


class OpenInterestPoller:
    """Polls Binance USDⓈ-M open interest of `symbols`; publishes `Tick`s (an EventSource).

    Args:
        symbols: venue symbols (``BTCUSDT``, ``TSLAUSDT``).
        classes: the ``assets.classes`` table (asset → class).
        rest_override: ``http://host:port`` instead of the venue (tests, proxies).
        interval_s: each symbol is asked once per this many seconds.
        timeout_s: bound on one request, seconds.
        on_error: counts failed requests (endpoint, reason).
        backoff: delays after a round where every request failed.
        sleep: awaited between requests (tests pass a fast one).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        classes: Mapping[str, AssetClass],
        *,
        rest_override: str | None = None,
        interval_s: float = 60.0,
        timeout_s: float = 10.0,
        on_error: OnError | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.instruments: dict[str, Instrument] = {}
        for symbol in dict.fromkeys(symbols):
            inst = binance_usdm.fallback(symbol, classes)
            if inst is None:
                logger.warning("open interest: %s is not a USDⓈ-M symbol, not polled", symbol)
            else:
                self.instruments[symbol] = inst
        self.oi_url = override_endpoint(OI_URL, rest_override)
        self.mark_url = override_endpoint(MARK_URL, rest_override)
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
        marks = await self._get(session, self.mark_url, {}, "premiumIndex", parse_marks) or {}
        step = self.interval_s / len(self.instruments)
        done = 0
        for symbol, inst in self.instruments.items():
            tick = await self._tick(session, symbol, inst, marks)
            if tick is not None:
                done += await publish([tick])
            await self.sleep(step)
        self.published += done
        return done

    async def _tick(
        self,
        session: aiohttp.ClientSession,
        symbol: str,
        inst: Instrument,
        marks: dict[str, float],
    ) -> Tick | None:
        params = {"symbol": symbol}
        if symbol not in marks:
            marks.update(
                await self._get(session, self.mark_url, params, "premiumIndex", parse_marks) or {}
            )
        found = await self._get(session, self.oi_url, params, "openInterest", parse_open_interest)
        price = marks.get(symbol)
        if found is None or price is None:
            return None
        _, contracts, ts_ns = found
        return Tick(
            exchange=VENUE, symbol=inst.symbol, venue_symbol=symbol, asset=inst.asset,
            asset_class=inst.asset_class, price=price, open_interest_usd=contracts * price,
            ts_event_ns=ts_ns, ts_recv_ns=time.time_ns(),
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
            line = "open interest: %s %s failed: %s" % (endpoint, params.get("symbol", ""), exc)
            key = "%s/%s" % (endpoint, reason)
            (logger.debug if key in self._logged else logger.warning)("%s", line)
            self._logged.add(key)
            return None
