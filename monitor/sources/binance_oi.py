"""Binance open interest by REST (its WebSocket streams carry none): USDⓈ-M and COIN-M.

The venue parts `BinanceOI` plugged into `monitor.sources.oi_poll.OpenInterestPoller`.
Each round asks the all-symbol marks once, then each watched symbol's open interest::

    GET /fapi/v1/premiumIndex                 (USDⓈ-M: all symbols, weight 10, once a round)
    → [{"symbol": "BTCUSDT", "markPrice": "11793.63", "time": 1562566020000, ...}, ...]
    GET /fapi/v1/openInterest?symbol=BTCUSDT   (weight 1 per symbol)
    → {"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}
    GET /dapi/v1/premiumIndex                 (COIN-M: all symbols, weight 10, once a round)
    → [{"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "markPrice": "11029.69", ...}, ...]
    GET /dapi/v1/openInterest?symbol=BTCUSD_PERP   (weight 1 per symbol)
    → {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "openInterest": "517890",
       "contractType": "PERPETUAL", "time": 1591261042378}

USDⓈ-M ``openInterest`` is in contracts that are base units: USD = openInterest × mark.
COIN-M contracts are worth ``contractSize`` USD each (``/dapi/v1/exchangeInfo``, weight 1,
asked at the first round until it answers; until then Binance's convention, BTC 100 and
others 10, through `monitor.sources.binance_coinm.fallback`): USD = openInterest ×
contractSize. A symbol missing from the all-symbol marks is asked on its own. Each tick's
``price`` is the mark and its time the answer's ``time``. At 60 s and the default seven
USDⓈ-M symbols that is 17 of the 2,400 weight a minute; COIN-M's two, 12. The host follows
``sources.rest_override.<venue>`` (tests: a local server).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import AssetClass
from monitor.sources import binance_coinm, binance_usdm
from monitor.sources.base import Instrument, excerpt
from monitor.sources.oi_poll import Get, Reading
from monitor.sources.runner import override_endpoint

USDM_HOST: Final = "https://fapi.binance.com/fapi/v1/"
COINM_HOST: Final = "https://dapi.binance.com/dapi/v1/"
_MS: Final = 1_000_000
Valuation = Callable[[float, float, float], float]
"""(contracts, mark, contract size) → open interest in USD."""


class _OpenInterest(msgspec.Struct, frozen=True):
    symbol: str
    openInterest: str  # contracts (USDⓈ-M: base units; COIN-M: contractSize USD each)
    time: int  # ms


class _Mark(msgspec.Struct, frozen=True):
    symbol: str
    markPrice: str
    time: int = 0  # ms


_OI = msgspec.json.Decoder(_OpenInterest)
_MARKS = msgspec.json.Decoder(list[_Mark] | _Mark)


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


def contract_sizes(payload: bytes) -> dict[str, float]:
    """Return USD per contract by symbol of a COIN-M ``exchangeInfo`` answer (TRADING ones)."""
    return {i.venue_symbol: i.contract_size for i in binance_coinm.parse_instruments(payload, {})}


def base_units(contracts: float, mark: float, size: float) -> float:
    """USDⓈ-M: contracts are base units, valued at the mark."""
    return contracts * mark


def usd_contracts(contracts: float, mark: float, size: float) -> float:
    """COIN-M: each contract is worth `size` USD (``contractSize``), whatever the mark."""
    return contracts * size


class BinanceOI:
    """The Binance venue part of `OpenInterestPoller` (an `OIVenue`); see `usdm`, `coinm`.

    Args:
        name: the venue id (``binance_usdm``, ``binance_coinm``).
        host: ``https://…/fapi/v1/`` or ``…/dapi/v1/``; `rest_override` replaces its host.
        fallback: the WS adapter's name-only instrument builder.
        value: open interest in USD from (contracts, mark, contract size).
        sizes_url: COIN-M ``exchangeInfo``, asked until it answers; None for USDⓈ-M.
    """

    def __init__(
        self,
        name: str,
        host: str,
        fallback: Callable[[str, Mapping[str, AssetClass]], Instrument | None],
        value: Valuation,
        *,
        rest_override: str | None = None,
        sizes_url: str | None = None,
    ) -> None:
        self.name = name
        self.fallback, self.value = fallback, value
        self.oi_url = override_endpoint(host + "openInterest", rest_override)
        self.mark_url = override_endpoint(host + "premiumIndex", rest_override)
        self.sizes_url = override_endpoint(sizes_url, rest_override) if sizes_url else None
        self.sizes: dict[str, float] = {}  # COIN-M exchangeInfo contractSize, USD
        self.marks: dict[str, float] = {}

    @classmethod
    def usdm(cls, rest_override: str | None = None) -> BinanceOI:
        """Return the USDⓈ-M part (``/fapi/v1``)."""
        return cls(binance_usdm.NAME, USDM_HOST, binance_usdm.fallback, base_units,
                   rest_override=rest_override)  # fmt: skip

    @classmethod
    def coinm(cls, rest_override: str | None = None) -> BinanceOI:
        """Return the COIN-M part (``/dapi/v1``, contract sizes from ``exchangeInfo``)."""
        return cls(binance_coinm.NAME, COINM_HOST, binance_coinm.fallback, usd_contracts,
                   rest_override=rest_override, sizes_url=COINM_HOST + "exchangeInfo")  # fmt: skip

    def instrument(self, symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
        """Return the instrument the WS adapter's fallback builds from `symbol`."""
        return self.fallback(symbol, classes)

    async def prepare(self, get: Get) -> None:
        """Ask the all-symbol marks (and COIN-M contract sizes until known)."""
        if self.sizes_url is not None and not self.sizes:
            self.sizes = await get(self.sizes_url, {}, "exchangeInfo", contract_sizes) or {}
        self.marks = await get(self.mark_url, {}, "premiumIndex", parse_marks) or {}

    async def read(self, get: Get, symbol: str, inst: Instrument) -> Reading | None:
        """Ask `symbol`'s open interest (and its mark if the round's marks lack it)."""
        params = {"symbol": symbol}
        if symbol not in self.marks:
            self.marks.update(await get(self.mark_url, params, "premiumIndex", parse_marks) or {})
        found = await get(self.oi_url, params, "openInterest", parse_open_interest)
        mark = self.marks.get(symbol)
        if found is None or mark is None:
            return None
        _, contracts, ts_ns = found
        size = self.sizes.get(symbol, inst.contract_size)  # exchangeInfo, else the fallback's
        return Reading(price=mark, oi_usd=self.value(contracts, mark, size), ts_ns=ts_ns)
