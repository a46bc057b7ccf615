"""Bybit v5 instrument catalogue (``/v5/market/instruments-info``) and name fallback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

import msgspec

from monitor.events import AssetClass
from monitor.sources.base import Instrument
from monitor.sources.bybit.parse import NAME, fail
from monitor.symbols import classify, perp_symbol, split_concatenated

_MONTHS: Final = {
    "JAN": "01", "FEB": "02", "MAR": "03", "APR": "04", "MAY": "05", "JUN": "06",
    "JUL": "07", "AUG": "08", "SEP": "09", "OCT": "10", "NOV": "11", "DEC": "12",
}  # fmt: skip


class InstrumentRow(msgspec.Struct, frozen=True):
    """One ``result.list[]`` row of ``/v5/market/instruments-info``."""

    symbol: str  # "BTCUSDT", "XAUUSDT", "BTCUSD", "BTCPERP", "BTC-26DEC25"
    baseCoin: str
    quoteCoin: str
    contractType: str = ""  # LinearPerpetual, LinearFutures, InversePerpetual, InverseFutures
    status: str = ""  # Trading, PreLaunch, Settling, Closed
    deliveryTime: str = "0"  # ms, "0" for perpetuals


class InstrumentResult(msgspec.Struct, frozen=True):
    """``result`` of the instruments response."""

    category: str  # "linear" | "inverse"
    rows: list[InstrumentRow] = msgspec.field(name="list")  # wire name "list"
    nextPageCursor: str = ""  # non-empty when another page exists (not followed)


class InstrumentsResponse(msgspec.Struct, frozen=True):
    """The instruments response envelope."""

    result: InstrumentResult


_INSTRUMENTS_DECODER: Final = msgspec.json.Decoder(InstrumentsResponse)


def expiry(code: str) -> str:
    """Return YYMMDD for a Bybit expiry code such as ``26DEC25``; ValueError otherwise."""
    day, month, year = code[:-5], code[-5:-2], code[-2:]
    if not (day.isdigit() and year.isdigit() and month in _MONTHS):
        raise ValueError("not an expiry code: %r" % code)
    return "%s%s%02d" % (year, _MONTHS[month], int(day))


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the ``Trading`` contracts of one instruments-info page (linear or inverse).

    Dated futures (``BTCUSDT-26DEC25``, ``BTCUSDH26``) are named ``BTC-USDT-251226`` from
    ``deliveryTime``; perpetuals ``BASE-QUOTE-PERP``; ``category`` selects the stream.
    """
    try:
        result = _INSTRUMENTS_DECODER.decode(payload).result
    except msgspec.DecodeError as exc:
        raise fail(exc, payload) from None
    out = []
    for row in result.rows:
        if row.status != "Trading":
            continue
        symbol = perp_symbol(row.baseCoin, row.quoteCoin)
        if row.contractType.endswith("Futures") and row.deliveryTime.isdigit():
            when = datetime.fromtimestamp(int(row.deliveryTime) / 1000, tz=UTC)
            symbol = "%s-%s-%s" % (row.baseCoin, row.quoteCoin, when.strftime("%y%m%d"))
        out.append(
            Instrument(
                exchange=NAME,
                venue_symbol=row.symbol,
                symbol=symbol,
                asset=row.baseCoin,
                asset_class=classify(row.baseCoin, classes),
                quote=row.quoteCoin,
                inverse=result.category == "inverse",
                category=result.category,
            )
        )
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Return an instrument from the name alone, or None (e.g. inverse ``BTCUSDH26``).

    ``BTCUSDT`` linear, ``BTCUSD`` inverse, ``BTCPERP`` USDC linear, ``BTC-26DEC25`` USDC
    futures, ``BTCUSDT-26DEC25`` USDT futures.
    """
    head, _, code = venue_symbol.partition("-")
    try:
        if head.endswith("PERP") and len(head) > 4:
            base, quote = head[:-4], "USDC"
        elif code and not head.endswith(("USDT", "USDC")):
            base, quote = head, "USDC"
        else:
            base, quote = split_concatenated(head)
        suffix = expiry(code) if code else "PERP"
    except ValueError:
        return None
    category = "inverse" if quote == "USD" else "linear"
    symbol = "%s-%s-%s" % (base, quote, suffix)
    return Instrument(
        NAME,
        venue_symbol,
        symbol,
        base,
        classify(base, classes),
        quote,
        quote == "USD",
        1.0,
        category,
    )
