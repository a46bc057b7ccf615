"""HTX USDT-margined swap open interest by REST (its WebSocket topics carry none).

The venue part `HtxOI` plugged into `monitor.sources.oi_poll.OpenInterestPoller`. Each
watched contract is asked once a round::

    GET /linear-swap-api/v1/swap_open_interest?contract_code=BTC-USDT
    → {"status": "ok", "ts": 1638754992327, "data": [{"symbol": "BTC",
       "contract_code": "BTC-USDT", "volume": 78696 (contracts), "amount": 78.696 (BTC),
       "value": 3823138.2456 (USDT), "trade_amount": …, "business_type": "swap", …}]}

``value`` is the venue's own USDT value of the open interest (USDT taken as USD): it is the
tick's ``open_interest_usd``; the tick's ``price`` is the price HTX valued it at,
``value`` / ``amount`` (so the engine's base units, USD / price, are ``amount``). A contract
with no open interest (``amount`` 0) gives no tick. ``{"status": "error", "err_code": …}``
(HTTP 200) is a failed request (``parse``). HTX allows 240 such public requests per 3 s
per IP; at 60 s a round asks one per watched contract. Times: the answer's ``ts`` (ms).
The host follows ``sources.rest_override.htx`` (tests: a local server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import AssetClass
from monitor.sources import htx
from monitor.sources.base import Instrument, excerpt
from monitor.sources.oi_poll import Get, Reading
from monitor.sources.runner import override_endpoint

OI_URL: Final = "https://api.hbdm.com/linear-swap-api/v1/swap_open_interest"
_MS: Final = 1_000_000


class _Row(msgspec.Struct, frozen=True):
    contract_code: str  # "BTC-USDT"
    amount: float  # open interest, base units (both sides summed)
    value: float  # open interest, USDT
    volume: float = 0.0  # open interest, contracts


class _Answer(msgspec.Struct, frozen=True):
    status: str  # "ok" | "error"
    ts: int = 0  # ms
    data: list[_Row] = []
    err_code: int = 0
    err_msg: str = ""


_ANSWER: Final = msgspec.json.Decoder(_Answer)


def parse_open_interest(payload: bytes, contract_code: str) -> tuple[float, float, int]:
    """Return (value USDT, amount in base units, time ns) of `contract_code` in an answer.

    Raises:
        ParseError: not the documented shape, ``status`` not ``ok`` (an unlisted contract),
            no row for `contract_code`, or values out of range.
    """
    try:
        answer = _ANSWER.decode(payload)
    except msgspec.DecodeError as exc:
        raise ParseError("htx swap_open_interest: %s: %s" % (exc, excerpt(payload))) from None
    if answer.status != "ok":
        raise ParseError("htx swap_open_interest: venue error: %s" % excerpt(payload))
    row = next((r for r in answer.data if r.contract_code.upper() == contract_code), None)
    if row is None:
        raise ParseError(
            "htx swap_open_interest: no %s row: %s" % (contract_code, excerpt(payload))
        )
    if not (row.value >= 0.0 and row.amount >= 0.0 and answer.ts > 0):
        raise ParseError("htx swap_open_interest: out of range: %s" % excerpt(payload))
    return row.value, row.amount, answer.ts * _MS


class HtxOI:
    """The HTX venue part of `OpenInterestPoller` (an `OIVenue`)."""

    name: Final = htx.NAME

    def __init__(self, rest_override: str | None = None) -> None:
        self.oi_url = override_endpoint(OI_URL, rest_override)

    def instrument(self, symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
        """Return the instrument the WS adapter's fallback builds from `symbol`."""
        return htx.fallback(symbol, classes)

    async def prepare(self, get: Get) -> None:
        """Nothing to ask once a round: each contract's answer carries its own value."""

    async def read(self, get: Get, symbol: str, inst: Instrument) -> Reading | None:
        """Ask `symbol`'s open interest; the price is ``value`` / ``amount``."""
        code = inst.venue_symbol
        found = await get(self.oi_url, {"contract_code": code}, "swap_open_interest",
                          lambda body: parse_open_interest(body, code))  # fmt: skip
        if found is None:
            return None
        value, amount, ts_ns = found
        if not amount > 0.0:
            return None
        return Reading(price=value / amount, oi_usd=value, ts_ns=ts_ns)
