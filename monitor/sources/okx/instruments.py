"""OKX v5 instrument catalogue (``/api/v5/public/instruments``) and id fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from monitor.events import AssetClass
from monitor.sources._checks import parse_error, positive
from monitor.sources.base import Instrument
from monitor.sources.okx.parse import NAME
from monitor.symbols import classify

INSTRUMENTS_URLS: Final = (
    "https://www.okx.com/api/v5/public/instruments?instType=SWAP",
    "https://www.okx.com/api/v5/public/instruments?instType=FUTURES",
)
INVERSE_CT_VAL_USD: Final = {"BTC": 100.0}  # name fallback only; every other coin: 10 USD
OTHER_CT_VAL_USD: Final = 10.0


class InstrumentRow(msgspec.Struct, frozen=True):
    """One ``data[]`` row of ``/api/v5/public/instruments`` (SWAP or FUTURES)."""

    instId: str  # "BTC-USDT-SWAP", "BTC-USD-250926"
    instType: str  # "SWAP" | "FUTURES"
    ctVal: str  # contract value, in ctValCcy
    ctType: str  # "linear" | "inverse"
    uly: str  # underlying "BTC-USDT"
    state: str = ""  # "live", "suspend", "preopen", "test"
    ctValCcy: str = ""  # "BTC" (linear) or "USD" (inverse)
    settleCcy: str = ""  # "USDT" (linear) or "BTC" (inverse)


class InstrumentsResponse(msgspec.Struct, frozen=True):
    """The instruments response envelope."""

    data: list[InstrumentRow]
    code: str = "0"


_INSTRUMENTS_DECODER: Final = msgspec.json.Decoder(InstrumentsResponse)


def normalized(inst_id: str) -> tuple[str, str, str]:
    """Return (base, quote, symbol): ``BTC-USDT-SWAP`` → ``BTC-USDT-PERP``.

    Futures keep their expiry: ``BTC-USD-250926`` → ``BTC-USD-250926``.

    Raises:
        ValueError: an id of another shape.
    """
    base, quote, kind = inst_id.split("-")
    if not (base and quote and kind):
        raise ValueError("not an OKX derivative id: %r" % inst_id)
    return base, quote, "%s-%s-%s" % (base, quote, "PERP" if kind == "SWAP" else kind)


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the live contracts of one instruments response, sized by ``ctVal``."""
    try:
        rows = _INSTRUMENTS_DECODER.decode(payload).data
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, payload) from None
    out = []
    for row in rows:
        if row.state != "live":
            continue
        try:
            base, quote, symbol = normalized(row.instId)
            size = positive(row.ctVal, "ctVal")
        except ValueError:
            continue  # a shape we cannot size: the fallback covers it if it ever trades
        out.append(
            Instrument(
                exchange=NAME,
                venue_symbol=row.instId,
                symbol=symbol,
                asset=base,
                asset_class=classify(base, classes),
                quote=quote,
                inverse=row.ctType == "inverse",
                contract_size=size,
                category=row.instType,
            )
        )
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Return an instrument from the id alone, or None.

    Inverse USD contracts get OKX's fixed face value (BTC 100 USD, others 10 USD); linear
    ones 1.0, which is WRONG wherever ctVal ≠ 1 (BTC-USDT-SWAP is 0.01 BTC): keep the
    catalogue fresh rather than rely on this.
    """
    try:
        base, quote, symbol = normalized(venue_symbol)
    except ValueError:
        return None
    inverse = quote == "USD"
    size = INVERSE_CT_VAL_USD.get(base, OTHER_CT_VAL_USD) if inverse else 1.0
    category = "SWAP" if venue_symbol.endswith("-SWAP") else "FUTURES"
    return Instrument(
        NAME, venue_symbol, symbol, base, classify(base, classes), quote, inverse, size, category
    )
