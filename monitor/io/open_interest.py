"""Binance USDⓈ-M open-interest history (the public ``metrics`` archive) → price ticks with OI.

Two layouts are read, by header:

- the archive's own: ``create_time,symbol,sum_open_interest,sum_open_interest_value,...``
  (``create_time`` as ``YYYY-MM-DD HH:MM:SS`` UTC, one row per 5 minutes);
- a compact one: ``t,oi,oi_usd`` (``t`` epoch ms; the symbol from the file name, e.g.
  ``BTC_oi_5m.csv`` → ``BTCUSDT``, or given).

Each row becomes a `Tick` at its time with ``open_interest_usd`` = the row's USD value and
``price`` = USD value / base units (the archive's own valuation price). Called by
`monitor.replay.source` for ``--format binance-oi`` and by the deleveraging evaluation.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from monitor.errors import InputError
from monitor.events import AssetClass, Tick
from monitor.io.files import open_read
from monitor.symbols import classify, perp_symbol, split_concatenated

EXCHANGE: Final = "binance_usdm"
ARCHIVE_HEADER: Final = ("create_time", "symbol", "sum_open_interest", "sum_open_interest_value")
COMPACT_HEADER: Final = ("t", "oi", "oi_usd")
_NAME: Final = re.compile(r"^([A-Z0-9]+?)(USDT)?[_-]")
_MS_TO_NS: Final = 1_000_000


def is_open_interest(head: bytes) -> bool:
    """Return True when `head` (a file's first line) is one of the two OI headers."""
    cells = tuple(head.decode("utf-8", "replace").strip().lstrip("\ufeff").split(","))
    return cells[:4] == ARCHIVE_HEADER or cells == COMPACT_HEADER


def read_open_interest(
    path: Path, *, venue_symbol: str | None = None, classes: Mapping[str, AssetClass]
) -> Iterator[Tick]:
    """Yield one tick per row of `path`, in file order.

    Raises:
        InputError: ``"<path>:<line>: <reason>"`` for an unknown header or a bad row.
    """
    try:
        with open_read(path) as raw:
            rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
            header = tuple(next(rows, ()))
            if header[:4] == ARCHIVE_HEADER:
                yield from _rows(path, rows, classes, archive=True, symbol=venue_symbol)
            elif header == COMPACT_HEADER:
                symbol = venue_symbol or _symbol_from_name(path)
                yield from _rows(path, rows, classes, archive=False, symbol=symbol)
            else:
                raise InputError("%s:1: not a Binance open-interest header" % path)
    except UnicodeDecodeError as exc:
        raise InputError("%s: not UTF-8 text (byte %d)" % (path, exc.start)) from None
    except (OSError, EOFError) as exc:
        raise InputError("%s: cannot read: %s" % (path, exc)) from None


def _symbol_from_name(path: Path) -> str:
    match = _NAME.match(path.name)
    if match is None:
        raise InputError("%s: cannot tell the symbol from the file name; pass --symbol" % path)
    return match.group(1) + "USDT"


def _rows(
    path: Path,
    rows: Iterator[list[str]],
    classes: Mapping[str, AssetClass],
    *,
    archive: bool,
    symbol: str | None,
) -> Iterator[Tick]:
    for lineno, cells in enumerate(rows, start=2):
        if not cells:
            continue
        try:
            if archive:
                ts_ms = _archive_ms(cells[0])
                name, oi, oi_usd = symbol or cells[1], float(cells[2]), float(cells[3])
            else:
                ts_ms, oi, oi_usd = int(cells[0]), float(cells[1]), float(cells[2])
                name = symbol or ""
            _check_positive(oi, oi_usd)
            base, quote = split_concatenated(name)
        except (ValueError, IndexError) as exc:
            raise InputError("%s:%d: bad row: %s" % (path, lineno, exc)) from None
        yield Tick(
            exchange=EXCHANGE,
            symbol=perp_symbol(base, quote),
            venue_symbol=name,
            asset=base,
            asset_class=classify(base, classes),
            price=oi_usd / oi,
            open_interest_usd=oi_usd,
            ts_event_ns=ts_ms * _MS_TO_NS,
            ts_recv_ns=ts_ms * _MS_TO_NS,
        )


def _check_positive(*values: float) -> None:
    if not all(v > 0 and math.isfinite(v) for v in values):
        msg = "open interest not a positive number"
        raise ValueError(msg)


def _archive_ms(text: str) -> int:
    when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)
