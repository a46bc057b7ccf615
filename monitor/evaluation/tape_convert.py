"""Recorded Bybit ``liquidation.{symbol}`` JSONL tapes → Tardis ``liquidations`` CSV.

Some public recordings of Bybit's deprecated per-symbol liquidation topic (at most one
liquidation per symbol per second) keep one JSON line per second::

    {"t": 1707752085000, "d": [{"updateTime": 1707752083964, "symbol": "BTCUSDT",
                                "side": "Buy", "size": "0.003", "price": "49407.90"}]}

``t`` is the recorder's clock (ms), ``d`` the liquidations pushed in that second, ``side``
the POSITION side (``Buy``: a long was liquidated), ``size`` in base coins. This writes
them as a Tardis liquidations CSV (``exchange`` ``bybit``, side ``sell`` for a long), which
``liqmon replay`` and `monitor.evaluation.tapes_command` read through liqmon's own Bybit
adapter. Inputs may be ``.jsonl``, ``.gz``/``.zst`` or ``.zip`` (every ``.jsonl`` member).

``python -m monitor.evaluation.tape_convert OUT.csv TAPE...``; exit 0 ok, 2 bad input.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import msgspec

from monitor.errors import InputError
from monitor.io.files import open_read
from monitor.io.tardis import LIQUIDATION_COLUMNS


class _Item(msgspec.Struct, frozen=True):
    symbol: str
    side: str
    size: str
    price: str
    updateTime: int | None = None  # the recorder's key
    updatedTime: int | None = None  # Bybit's own key


class _Line(msgspec.Struct, frozen=True):
    t: int
    d: list[_Item]


_DECODER = msgspec.json.Decoder(_Line)
_SIDES = {"Buy": "sell", "Sell": "buy"}  # position side → Tardis side (sell: long closed)


def rows(lines: Iterator[str], name: str) -> Iterator[list[str]]:
    """Yield Tardis ``liquidations`` rows of one tape's lines (`name` for errors).

    Raises:
        InputError: ``"<name>:<line>: <reason>"`` for a line that is not such a record.
    """
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = _DECODER.decode(line)
        except msgspec.DecodeError as exc:
            raise InputError("%s:%d: not a liquidation record: %s" % (name, n, exc)) from None
        for item in rec.d:
            ts = item.updatedTime or item.updateTime or rec.t
            side = _SIDES.get(item.side)
            if side is None:
                raise InputError("%s:%d: side %r is neither Buy nor Sell" % (name, n, item.side))
            row_id = "%s-%d-%s-%s" % (item.symbol, ts, item.size, item.price)
            yield ["bybit", item.symbol, str(ts * 1000), str(rec.t * 1000), row_id, side,
                   item.price, item.size]  # fmt: skip


def _texts(path: Path) -> Iterator[tuple[str, Iterator[str]]]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            for member in sorted(m for m in zf.namelist() if m.endswith(".jsonl")):
                with zf.open(member) as raw:
                    yield "%s!%s" % (path, member), io.TextIOWrapper(raw, encoding="utf-8")
        return
    with open_read(path) as raw:
        yield str(path), io.TextIOWrapper(raw, encoding="utf-8")


def convert(tapes: Sequence[Path], out: TextIO) -> int:
    """Write the Tardis CSV of `tapes` (in order) to `out`; return the rows written.

    Raises:
        InputError: an unreadable file or a bad line (named).
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LIQUIDATION_COLUMNS)
    count = 0
    for path in tapes:
        try:
            for name, lines in _texts(path):
                for row in rows(lines, name):
                    writer.writerow(row)
                    count += 1
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise InputError("%s: cannot read: %s" % (path, exc)) from None
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``OUT.csv TAPE...``; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m monitor.evaluation.tape_convert OUT.csv TAPE...", file=sys.stderr)
        return 2
    try:
        with Path(args[0]).open("w", encoding="utf-8", newline="") as out:
            n = convert([Path(a) for a in args[1:]], out)
    except InputError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    print("%d liquidations written to %s" % (n, args[0]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
