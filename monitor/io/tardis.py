"""Tardis.dev normalized CSV history (``liquidations``, ``derivative_ticker``) → events.

Column layouts (Tardis "downloadable CSV files"; times are epoch MICROseconds):

- ``liquidations``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``;
  ``side`` ``buy`` means a short position was liquidated, ``sell`` a long one; ``amount`` is
  in the venue's own unit. Each row is rebuilt as the venue's frame and parsed by liqmon's
  own adapter (`monitor.io.tardis_frames`), so USD sizes and sides match the live path.
- ``derivative_ticker``: ``exchange,symbol,timestamp,local_timestamp,funding_timestamp,
  funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price``;
  each row with a price becomes a `Tick` (mark price, else last price) with open interest
  in USD where the venue's unit allows it.

One file holds one dataset of one exchange (as Tardis ships them); plain, ``.gz`` or
``.zst``. Called by `monitor.replay.source` for ``--format tardis`` (or ``auto`` on such a header).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from monitor.errors import InputError, ParseError
from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.io.files import open_read
from monitor.io.tardis_frames import BUILDERS, Row
from monitor.recent import RecentIds
from monitor.sources.base import FrameParser, Instrument, InstrumentBook, StreamSpec, VenueSpec
from monitor.sources.catalogue import read_cache
from monitor.sources.frames import parse_frame

logger = logging.getLogger(__name__)

_COMMON: Final = ("exchange", "symbol", "timestamp", "local_timestamp")
LIQUIDATION_COLUMNS: Final = [*_COMMON, "id", "side", "price", "amount"]
TICKER_COLUMNS: Final = [
    *_COMMON,
    "funding_timestamp",
    "funding_rate",
    "predicted_funding_rate",
    "open_interest",
    "last_price",
    "index_price",
    "mark_price",
]
HEADER_PREFIX: Final = b"exchange,symbol,timestamp,local_timestamp,"
_US_TO_NS: Final = 1_000
_MAX_US: Final = 2**63 // _US_TO_NS - 1
_SIDES: Final = {"buy": True, "sell": False}
_USD_AMOUNT_VENUES: Final = frozenset({"deribit"})  # open interest in USD (inverse), not contracts


def is_tardis(head: bytes) -> bool:
    """Return True when `head` (a file's first line) is a Tardis CSV header."""
    return head.lstrip(b"\xef\xbb\xbf").startswith(HEADER_PREFIX)


def read_tardis(
    path: Path, classes: Mapping[str, AssetClass], cache_dir: Path | None = None
) -> Iterator[Event]:
    """Yield the events of one Tardis CSV file, in file order.

    Instruments (contract sizes) come from the catalogue cache in `cache_dir` (written by
    `liqmon run`; ``sources.cache_dir``) when there is one, else from the venue adapter's
    fallback, which knows inverse face values but not every linear contract size (OKX
    ``BTC-USDT-SWAP`` is 0.01 BTC): replay OKX linear history with a cached catalogue.

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` for an unknown header or exchange, or a row
            whose times or numbers do not parse. Rows the venue adapter rejects (an unknown
            instrument, a non-positive size) are skipped, counted and logged once.
    """
    try:
        with open_read(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            rows = csv.reader(text)
            header = next(rows, None)
            if header == LIQUIDATION_COLUMNS:
                yield from _liquidations(path, rows, _Books(classes, cache_dir))
            elif header == TICKER_COLUMNS:
                yield from _tickers(path, rows, _Books(classes, cache_dir))
            else:
                raise InputError(
                    "%s:1: not a Tardis liquidations or derivative_ticker header" % path
                )
    except UnicodeDecodeError as exc:
        raise InputError("%s: not UTF-8 text (byte %d)" % (path, exc.start)) from None
    except (OSError, EOFError) as exc:
        raise InputError("%s: cannot read: %s" % (path, exc)) from None


def _venue(path: Path, lineno: int, exchange: str) -> VenueSpec:
    """Return the liqmon adapter for a Tardis exchange id, or raise `InputError`."""
    from monitor.sources import SOURCES  # noqa: PLC0415  (imports every venue adapter)

    found = BUILDERS.get(exchange)
    if found is None:
        raise InputError(
            "%s:%d: Tardis exchange %r is not supported (supported: %s)"
            % (path, lineno, exchange, ", ".join(sorted(BUILDERS)))
        )
    return SOURCES[found[0]]


class _Books:
    """Builds a venue's instrument book from the catalogue cache, else its fallback alone."""

    def __init__(self, classes: Mapping[str, AssetClass], cache_dir: Path | None) -> None:
        self.classes = classes
        self.cache_dir = cache_dir

    def book(self, venue: VenueSpec) -> InstrumentBook:
        """Return a fresh book of `venue`."""
        cached = read_cache(self.cache_dir, venue.name) if self.cache_dir else None
        return InstrumentBook(venue.name, cached or (), self.classes, venue.fallback)


def _micros(text: str, what: str) -> int:
    value = int(text)
    if not 0 < value <= _MAX_US:
        raise ValueError("%s %s out of range" % (what, text))
    return value


def _number(text: str, what: str) -> str:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("%s %r is not a positive number" % (what, text))
    return text


def _liquidation_row(cells: list[str]) -> tuple[str, Row, int]:
    """Return (exchange, row, receive time ns) of one ``liquidations`` line; ValueError if bad."""
    if len(cells) != len(LIQUIDATION_COLUMNS):
        raise ValueError("%d columns, expected %d" % (len(cells), len(LIQUIDATION_COLUMNS)))
    exchange, symbol, ts, local_ts, row_id, side, price, amount = cells
    if side not in _SIDES:
        raise ValueError("side %r is neither buy nor sell" % side)
    row = Row(
        symbol=symbol,
        ts_ms=_micros(ts, "timestamp") // 1000,
        row_id=row_id,
        short_liquidated=_SIDES[side],
        price=_number(price, "price"),
        amount=_number(amount, "amount"),
    )
    return exchange, row, _micros(local_ts, "local_timestamp") * _US_TO_NS


class _LiquidationFile:
    """The adapter of the file's exchange, made at its first row; skipped rows counted."""

    def __init__(self, path: Path, books: _Books) -> None:
        self.path = path
        self.books = books
        self.exchange = ""
        self.parser: tuple[VenueSpec, StreamSpec, FrameParser] | None = None
        self.recent = RecentIds()
        self.skipped = 0

    def events(self, lineno: int, exchange: str, row: Row, recv_ns: int) -> list[Event]:
        """Return the events the venue adapter makes of `row` (none if it rejects it)."""
        if self.parser is None:
            venue = _venue(self.path, lineno, exchange)
            stream = next(s for s in venue.streams if s.kind == "liquidations")
            self.exchange, self.parser = (
                exchange,
                (venue, stream, stream.make_parser(self.books.book(venue))),
            )
        elif exchange != self.exchange:
            raise InputError(
                "%s:%d: exchange %r in a %r file" % (self.path, lineno, exchange, self.exchange)
            )
        venue, stream, parser = self.parser
        try:
            events = parse_frame(venue.name, stream, parser, BUILDERS[exchange][1](row), recv_ns)
        except ParseError as exc:
            self.skipped += 1
            if self.skipped == 1:
                logger.warning("%s:%d: row skipped (first of the file): %s", self.path, lineno, exc)
            return []
        return [
            e for e in events if not (isinstance(e, Liquidation) and self.recent.seen(e.event_id))
        ]


def _liquidations(path: Path, rows: Iterator[list[str]], books: _Books) -> Iterator[Event]:
    reader = _LiquidationFile(path, books)
    for lineno, cells in enumerate(rows, start=2):
        if not cells:
            continue
        try:
            exchange, row, recv_ns = _liquidation_row(cells)
        except ValueError as exc:
            raise InputError("%s:%d: bad row: %s" % (path, lineno, exc)) from None
        yield from reader.events(lineno, exchange, row, recv_ns)
    if reader.skipped:
        logger.warning(
            "%s: %d rows skipped by the %s adapter", path, reader.skipped, reader.exchange
        )


def _ticker_row(cells: list[str]) -> tuple[str, str, float | None, float | None, int, int]:
    """Return (exchange, symbol, open interest, price, time ns, receive ns); ValueError if bad."""
    if len(cells) != len(TICKER_COLUMNS):
        raise ValueError("%d columns, expected %d" % (len(cells), len(TICKER_COLUMNS)))
    oi, last, mark = (_optional(cells[i]) for i in (7, 8, 10))
    ts_ns, recv_ns = (_micros(t, "timestamp") * _US_TO_NS for t in (cells[2], cells[3]))
    return cells[0], cells[1], oi, mark or last, ts_ns, recv_ns


def _tickers(path: Path, rows: Iterator[list[str]], books: _Books) -> Iterator[Event]:
    book: InstrumentBook | None = None
    for lineno, cells in enumerate(rows, start=2):
        if not cells:
            continue
        try:
            exchange, symbol, oi, price, ts_ns, recv_ns = _ticker_row(cells)
        except ValueError as exc:
            raise InputError("%s:%d: bad row: %s" % (path, lineno, exc)) from None
        if price is None:
            continue  # a funding-only update: nothing to observe
        if book is None:
            book = books.book(_venue(path, lineno, exchange))
        inst = book.get(symbol)
        if inst is None:
            raise InputError("%s:%d: unknown %s instrument %r" % (path, lineno, exchange, symbol))
        yield Tick(
            exchange=inst.exchange,
            symbol=inst.symbol,
            venue_symbol=symbol,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            open_interest_usd=None if oi is None else _oi_usd(inst, oi, price),
            ts_event_ns=ts_ns,
            ts_recv_ns=recv_ns,
        )


def _optional(text: str) -> float | None:
    """Return a positive finite number, or None for an empty or zero cell."""
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("%r is not a non-negative number" % text)
    return value or None


def _oi_usd(inst: Instrument, open_interest: float, price: float) -> float:
    """Return open interest in USD: contracts × size (inverse: USD; linear: base × price)."""
    size = 1.0 if inst.exchange in _USD_AMOUNT_VENUES else inst.contract_size
    units = open_interest * size
    return units if inst.inverse else units * price
