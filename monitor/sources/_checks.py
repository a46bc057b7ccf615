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
from monitor.sources.base import Frame, excerpt

MAX_TS_MS: Final = 10**13
"""Year 2286: a venue timestamp above this (in ms) is garbage, not a time."""

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


def positive(text: str, what: str) -> float:
    """Return `text` as a finite float > 0, else raise ValueError naming `what`."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("%s must be finite and > 0, got %r" % (what, text))
    return value


def optional(text: str | None, what: str, *, signed: bool = False) -> float | None:
    """Return an optional wire number: None when absent or empty.

    Raises:
        ValueError: not a number, not finite, or negative unless `signed`.
    """
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value) or (not signed and value < 0):
        raise ValueError("%s out of range: %r" % (what, text))
    return value


def ts_ns(ms: int) -> int:
    """Return epoch milliseconds as nanoseconds, rejecting non-positive or absurd values."""
    if not 0 < ms < MAX_TS_MS:
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


def parse_error(exchange: str, exc: Exception, frame: Frame | bytes) -> ParseError:
    """Return the `ParseError` for a frame of `exchange` that raised `exc`."""
    return ParseError("%s: %s: %s" % (exchange, exc, excerpt(frame)))
