"""Binance's published TradFi sessions: ``GET /fapi/v1/tradingSchedule`` and ``tradingSession``.

The REST schedule (request weight 5) covers a week from the day before the query::

    {"updateTime": 1761286643918, "marketSchedules": {"EQUITY": {"sessions": [
        {"startTime": 1761177600000, "endTime": 1761206400000, "type": "OVERNIGHT"}]},
     "COMMODITY": {"sessions": [...]}}}

The stream pushes the current session of each market every second::

    {"e": "EquityUpdate", "E": 1765244143062, "t": 1765242000000, "T": 1765270800000,
     "S": "OVERNIGHT"}

(``e`` is ``CommodityUpdate`` for commodities; times epoch ms). Both become `Session`s for
`SessionCalendar.add`; anything else raises `ParseError` with an excerpt.
"""

from __future__ import annotations

from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.sessions.calendar import Market, Session, SessionType
from monitor.sources.base import excerpt

_MS: Final = 1_000_000
_MAX_MS: Final = 2**63 // _MS - 1
_STREAM_MARKETS: Final[dict[str, Market]] = {
    "EquityUpdate": "EQUITY",
    "CommodityUpdate": "COMMODITY",
}


class _Row(msgspec.Struct, frozen=True):
    startTime: int  # ms
    endTime: int  # ms
    type: SessionType


class _Market(msgspec.Struct, frozen=True):
    sessions: list[_Row] = []


class _Schedule(msgspec.Struct, frozen=True):
    marketSchedules: dict[str, _Market]
    updateTime: int = 0


class _Update(msgspec.Struct, frozen=True):
    e: str  # "EquityUpdate" | "CommodityUpdate"
    t: int  # session start, ms
    T: int  # session end, ms
    S: SessionType


_SCHEDULE = msgspec.json.Decoder(_Schedule)
_UPDATE = msgspec.json.Decoder(_Update)


def _session(start_ms: int, end_ms: int, kind: SessionType, payload: bytes | str) -> Session:
    if not (0 < start_ms < end_ms <= _MAX_MS):
        raise ParseError("binance session times out of range: %s" % excerpt(payload))
    return Session(start_ms * _MS, end_ms * _MS, kind)


def parse_schedule(payload: bytes | str) -> dict[Market, list[Session]]:
    """Return the sessions of a ``tradingSchedule`` answer, by market (unknown ones skipped)."""
    try:
        schedule = _SCHEDULE.decode(payload)
    except msgspec.DecodeError as exc:
        raise ParseError("binance tradingSchedule: %s: %s" % (exc, excerpt(payload))) from None
    out: dict[Market, list[Session]] = {}
    for name, market in schedule.marketSchedules.items():
        if name in ("EQUITY", "COMMODITY"):
            key: Market = "EQUITY" if name == "EQUITY" else "COMMODITY"
            out[key] = [_session(r.startTime, r.endTime, r.type, payload) for r in market.sessions]
    return out


def parse_update(payload: bytes | str) -> tuple[Market, Session]:
    """Return the market and session of one ``tradingSession`` push."""
    try:
        update = _UPDATE.decode(payload)
    except msgspec.DecodeError as exc:
        raise ParseError("binance tradingSession: %s: %s" % (exc, excerpt(payload))) from None
    market = _STREAM_MARKETS.get(update.e)
    if market is None:
        raise ParseError("binance tradingSession: unknown event %r" % update.e)
    return market, _session(update.t, update.T, update.S, payload)
