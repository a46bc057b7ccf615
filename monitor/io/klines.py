"""Binance public 1-minute klines (data.binance.vision CSV) turned into price ticks.

Columns: ``open_time, open, high, low, close, volume, close_time, quote_volume, count,
taker_buy_volume, taker_buy_quote_volume, ignore``; the header row is optional, and
``open_time`` is epoch milliseconds (microseconds in some newer archives, detected by
size). The symbol comes from the file name (``NEARUSDT-1m-2025-11.csv``) or is given.

Each minute becomes four ticks at +0 s, +15 s, +30 s and +45 s: the open, then the high
and the low in the order the candle's direction implies (a falling candle went up first,
then down: open, high, low, close; a rising one open, low, high, close), then the close.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import msgspec

from monitor.errors import InputError
from monitor.events import AssetClass, Tick
from monitor.io.files import open_read
from monitor.symbols import classify, perp_symbol, split_concatenated

EXCHANGE: Final = "binance_usdm"
TICK_OFFSETS_NS: Final[tuple[int, ...]] = (0, 15_000_000_000, 30_000_000_000, 45_000_000_000)
_FILE_SYMBOL: Final = re.compile(r"^([A-Z0-9]+)-\d+[smhdwM]-")
_MICROS_THRESHOLD: Final = 10**14  # epoch ms stays below this until the year 5138


def symbol_from_filename(path: Path) -> str | None:
    """Return ``NEARUSDT`` for ``NEARUSDT-1m-2025-11.csv``, or None if the name has no symbol."""
    match = _FILE_SYMBOL.match(path.name)
    return match.group(1) if match else None


def read_klines(
    path: Path,
    *,
    venue_symbol: str | None = None,
    classes: Mapping[str, AssetClass] | None = None,
) -> Iterator[Tick]:
    """Yield four ticks per kline row of `path`, in time order.

    Args:
        path: a data.binance.vision kline CSV (plain, ``.gz`` or ``.zst``).
        venue_symbol: the Binance symbol; taken from the file name when None.
        classes: asset → asset class table (config ``assets.classes``).

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` for a bad row or an unknown symbol.
    """
    symbol = venue_symbol or symbol_from_filename(path)
    if symbol is None:
        raise InputError("%s: cannot tell the symbol from the file name; pass --symbol" % path)
    try:
        base, quote = split_concatenated(symbol)
    except ValueError as exc:
        raise InputError("%s: %s" % (path, exc)) from None
    asset_class = classify(base, classes or {})
    template = Tick(
        exchange=EXCHANGE,
        symbol=perp_symbol(base, quote),
        venue_symbol=symbol.upper(),
        asset=base,
        asset_class=asset_class,
        price=0.0,
        ts_event_ns=0,
        ts_recv_ns=0,
    )
    for lineno, row in kline_rows(path):
        yield from _row_ticks(template, row, path, lineno)


def kline_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, row) of every data row of a kline CSV (header and blanks skipped).

    Raises:
        InputError: the file cannot be opened.
    """
    try:
        stream = open_read(path)
    except OSError as exc:
        raise InputError("%s: cannot open: %s" % (path, exc.strerror or exc)) from None
    with stream, io.TextIOWrapper(stream, encoding="utf-8", newline="") as text:
        for lineno, row in enumerate(csv.reader(text), start=1):
            if not row or (lineno == 1 and row[0].strip() == "open_time"):
                continue
            yield lineno, row


def open_time_ms(value: str) -> int:
    """Return a row's ``open_time`` in epoch ms (given in ms, or µs in newer archives).

    Raises ValueError when it is not an integer.
    """
    t = int(value)
    return t // 1_000 if t >= _MICROS_THRESHOLD else t


def _row_ticks(template: Tick, row: list[str], path: Path, lineno: int) -> Iterator[Tick]:
    try:
        open_time_ns = open_time_ms(row[0]) * 1_000_000
        o, h, low, c = (float(v) for v in row[1:5])
    except (ValueError, IndexError):
        raise InputError(
            "%s:%d: not a kline row (open_time,open,high,low,close,...): %.60r"
            % (path, lineno, ",".join(row))
        ) from None
    if min(o, h, low, c) <= 0 or low > h:
        raise InputError(
            "%s:%d: impossible prices o=%s h=%s l=%s c=%s" % (path, lineno, o, h, low, c)
        )
    prices = (o, h, low, c) if c < o else (o, low, h, c)
    for offset_ns, price in zip(TICK_OFFSETS_NS, prices, strict=True):
        ts = open_time_ns + offset_ns
        yield msgspec.structs.replace(template, price=price, ts_event_ns=ts, ts_recv_ns=ts)
