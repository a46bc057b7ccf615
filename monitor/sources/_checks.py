"""Number and timestamp checks shared by the venue parsers of this family (pure, no I/O).

Every parser turns whatever a malformed frame raises (`PARSE_ERRORS`) into one
`ParseError` with a truncated excerpt, and rejects non-finite or non-positive prices and
sizes, so the only outcomes of `parse` are valid events or `ParseError`.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import Side
from monitor.sources.base import Frame, Instrument, InstrumentBook, excerpt

MAX_TS_MS: Final = 10**13
"""Year 2286: a venue timestamp above this (in ms) is garbage, not a time."""
MAX_NS: Final = 2**63
"""Nanosecond times must stay below this (they are int64 on the wire of some consumers)."""
INT64_MS: Final = -(-MAX_NS // 1_000_000)
"""The `ts_ns` limit of the venues that only keep nanoseconds below `MAX_NS` (bitget, gate,
deribit): every ms below it gives fewer than 2**63 ns (about year 2262)."""

PARSE_ERRORS: Final = (
    msgspec.DecodeError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    UnicodeDecodeError,
    OverflowError,
)
"""What decoding a malformed frame can raise; all become `ParseError`."""


def positive(text: str | float, what: str) -> float:
    """Return `text` (a wire string or number) as a finite float > 0, else raise ValueError."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("%s must be finite and > 0, got %r" % (what, text))
    return value


def finite(text: str, what: str) -> float:
    """Return a required wire number of any sign; raise ValueError unless finite ("" too)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("%s out of range: %r" % (what, text))
    return value


def optional(text: str | None, what: str, *, signed: bool = False) -> float | None:
    """Return an optional wire number: None when absent or empty.

    Raises:
        ValueError: not a number, not finite, or negative unless `signed`.
    """
    if not text:
        return None
    value = finite(text, what)
    if not signed and value < 0:
        raise ValueError("%s out of range: %r" % (what, text))
    return value


def ts_ns(ms: int, *, limit_ms: int | None = MAX_TS_MS) -> int:
    """Return epoch milliseconds as nanoseconds, rejecting non-positive or absurd values.

    Args:
        ms: the venue time.
        limit_ms: `ms` must stay below this: `MAX_TS_MS` by default, `INT64_MS` for the
            venues bounded by int64 nanoseconds, None for those that check only ``> 0``.
    """
    if not (ms > 0 and (limit_ms is None or ms < limit_ms)):
        raise ValueError("timestamp out of range: %r ms" % ms)
    return ms * 1_000_000


def ts_ns_text(ms: str) -> int:
    """Return a decimal string of epoch milliseconds (OKX) as nanoseconds."""
    if not ms.isdigit():
        raise ValueError("timestamp not a decimal integer: %r" % ms)
    return ts_ns(int(ms))


def checked_notional(qty: float, notional: float) -> None:
    """Raise ValueError unless both the base quantity and the USD notional are finite > 0."""
    if not (math.isfinite(qty) and qty > 0 and math.isfinite(notional) and notional > 0):
        raise ValueError("qty/notional out of range: %r / %r" % (qty, notional))


def known(book: InstrumentBook, venue_symbol: str, what: str = "symbol") -> Instrument:
    """Return the instrument of `venue_symbol`, else raise ValueError ``unknown <what> ...``."""
    inst = book.get(venue_symbol)
    if inst is None:
        raise ValueError("unknown %s %r" % (what, venue_symbol))
    return inst


def liquidated(side: str, sell: str, buy: str, what: str = "side") -> Side:
    """Return the position a forced ORDER closed: `sell` closes a long, `buy` a short.

    Raises:
        ValueError: `side` is neither `sell` nor `buy`.
    """
    if side == sell:
        return "long"
    if side == buy:
        return "short"
    raise ValueError("unknown %s %r" % (what, side))


def parse_error(exchange: str, exc: Exception | str, frame: Frame | bytes) -> ParseError:
    """Return the `ParseError` ``<exchange>: <exc>: <excerpt>`` for a frame of `exchange`.

    `exc` is what the frame raised, or a text saying what is wrong with it.
    """
    return ParseError("%s: %s: %s" % (exchange, exc, excerpt(frame)))
