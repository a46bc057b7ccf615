"""Binance futures wire schema and parsers shared by USDⓈ-M and COIN-M (pure, no I/O).

Liquidations (``forceOrder``) are parsed in `monitor.sources._binance_force`. Both markets
send the same ``forceOrder`` and ``markPriceUpdate`` payloads; they differ in
URLs, symbols and units, which the instrument says (COIN-M: ``inverse``, ``contract_size``
USD per contract). The venue modules `binance_usdm` and `binance_coinm` hold the docstrings
with the side convention, the constants and the `VenueSpec`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from monitor.events import Event, Tick
from monitor.sources._checks import PARSE_ERRORS, known, optional, parse_error, positive, ts_ns
from monitor.sources.base import Frame, InstrumentBook


class MarkUpdate(msgspec.Struct, frozen=True):
    """One ``markPriceUpdate``."""

    s: str  # symbol
    p: str  # mark price
    E: int = 0  # event time, ms
    r: str = ""  # funding rate ("" for delivery contracts)
    i: str = ""  # index price


class MarkFrame(msgspec.Struct, frozen=True):
    """A combined-stream envelope of one or many mark updates, a bare update, or an ack."""

    stream: str = ""  # combined stream name
    data: list[MarkUpdate] | MarkUpdate | None = None  # an array for ``!markPrice@arr``
    s: str = ""  # bare update: symbol
    p: str = ""  # bare update: mark price
    E: int = 0  # bare update: event time, ms
    r: str = ""  # bare update: funding rate
    error: msgspec.Raw | None = None  # request error


class SymbolInfo(msgspec.Struct, frozen=True):
    """One ``symbols[]`` row of ``exchangeInfo`` (only the fields we read)."""

    symbol: str  # "BTCUSDT", "XAUUSDT", "BTCUSDT_250926", COIN-M "BTCUSD_PERP"
    baseAsset: str  # "BTC", "XAU"
    quoteAsset: str  # "USDT", "USDC", COIN-M "USD"
    contractType: str = ""  # PERPETUAL, TRADIFI_PERPETUAL, CURRENT_QUARTER, ...
    status: str = ""  # USDⓈ-M: TRADING, SETTLING, PENDING_TRADING
    contractStatus: str = ""  # COIN-M: TRADING, ...
    contractSize: float = 1.0  # COIN-M: USD per contract (BTC 100, others 10)
    underlyingType: str = ""  # COIN, COMMODITY, EQUITY, INDEX, ...


class ExchangeInfo(msgspec.Struct, frozen=True):
    """The ``exchangeInfo`` response."""

    symbols: list[SymbolInfo]


_MARK_DECODER: Final = msgspec.json.Decoder(MarkFrame | list[MarkUpdate])
_INFO_DECODER: Final = msgspec.json.Decoder(ExchangeInfo)


def decode_exchange_info(exchange: str, payload: bytes) -> list[SymbolInfo]:
    """Return the ``symbols`` rows of an ``exchangeInfo`` response.

    Raises:
        ParseError: the response is not an ``exchangeInfo`` (named after `exchange`).
    """
    try:
        return _INFO_DECODER.decode(payload).symbols
    except msgspec.DecodeError as exc:
        raise parse_error(exchange, exc, payload) from None


def mark_rows(msg: MarkFrame | list[MarkUpdate]) -> Sequence[MarkUpdate | MarkFrame]:
    """Return the updates of a mark frame: bare array, envelope (array or one), or bare one."""
    if isinstance(msg, list):
        return msg
    if msg.error is not None:
        raise ValueError("request error %s" % bytes(msg.error).decode())
    if isinstance(msg.data, list):
        return msg.data
    if msg.data is not None:
        return [msg.data]
    return [msg] if msg.s else []


class MarkPriceParser:
    """Parses ``markPriceUpdate`` frames, single or arrays, into Ticks (mark, funding)."""

    exchange: str = ""  # set by the venue subclass

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` per mark update; no bid/ask or open interest on this stream."""
        out: list[Event] = []
        try:
            for row in mark_rows(_MARK_DECODER.decode(frame)):
                inst = known(self.book, row.s)
                out.append(
                    Tick(
                        exchange=self.exchange,
                        symbol=inst.symbol,
                        venue_symbol=row.s,
                        asset=inst.asset,
                        asset_class=inst.asset_class,
                        price=positive(row.p, "mark price"),
                        funding_rate=optional(row.r, "funding rate", signed=True),
                        ts_event_ns=ts_ns(row.E),
                        ts_recv_ns=ts_recv_ns,
                    )
                )
        except PARSE_ERRORS as exc:
            raise parse_error(self.exchange, exc, frame) from None
        return out


def combined_url(base: str, chunk: Sequence[str]) -> str:
    """Return the combined-stream URL ``<base>a/b/c`` carrying one connection's streams."""
    return base + "/".join(chunk)


def no_messages(chunk: Sequence[str]) -> list[str]:
    """Return []: Binance carries the subscription in the URL."""
    return []
