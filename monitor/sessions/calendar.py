"""Session timelines per underlying market, with a weekly template as the fallback.

Markets: ``EQUITY`` (US stocks and indices: PRE_MARKET, REGULAR, AFTER_MARKET, OVERNIGHT,
NO_TRADING) and ``COMMODITY`` (metals and energy: REGULAR, NO_TRADING), as Binance names
them for its TradFi perpetuals. Crypto trades around the clock: always ``REGULAR``.

A published session (Binance ``GET /fapi/v1/tradingSchedule`` or its ``tradingSession``
stream) wins over the template for the time it covers; operators add overrides (a market
holiday) the same way through `add`. The template, in New York time: equities OVERNIGHT
20:00–04:00 (Sunday 20:00 to Friday 20:00), PRE_MARKET 04:00–09:30, REGULAR 09:30–16:00,
AFTER_MARKET 16:00–20:00, NO_TRADING over the weekend; commodities REGULAR Sunday 18:00 to
Friday 17:00 with a NO_TRADING hour at 17:00 on weekdays (the CME Globex metals day).
Called by the aggregator (`session_at`, per event time) and by the session pollers (`add`).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Literal
from zoneinfo import ZoneInfo

from monitor.events import NS, AssetClass

Market = Literal["EQUITY", "COMMODITY", "CRYPTO"]
SessionType = Literal["PRE_MARKET", "REGULAR", "AFTER_MARKET", "OVERNIGHT", "NO_TRADING"]
SESSION_TYPES: Final[tuple[SessionType, ...]] = (
    "PRE_MARKET",
    "REGULAR",
    "AFTER_MARKET",
    "OVERNIGHT",
    "NO_TRADING",
)
MARKETS: Final[tuple[Market, ...]] = ("EQUITY", "COMMODITY", "CRYPTO")
TRADFI_MARKETS: Final[tuple[Market, ...]] = ("EQUITY", "COMMODITY")  # the ones with sessions
NEW_YORK: Final = ZoneInfo("America/New_York")
MAX_SESSIONS: Final = 2_000  # per market; a week of Binance's schedule is ~40


def market_of(asset_class: AssetClass) -> Market:
    """Return the underlying market whose sessions an asset class follows."""
    if asset_class in ("equity", "index"):
        return "EQUITY"
    if asset_class in ("metal", "energy"):
        return "COMMODITY"
    return "CRYPTO"  # crypto and fx: around the clock on the perp venues


@dataclass(frozen=True, slots=True, order=True)
class Session:
    """One session of one market: [start_ns, end_ns), epoch ns."""

    start_ns: int
    end_ns: int
    type: SessionType


@dataclass(slots=True)
class SessionCalendar:
    """Published sessions per market (sorted, non-overlapping), the template elsewhere."""

    published: dict[Market, list[Session]] = field(default_factory=dict)
    version: int = 0  # bumped by every `add`: lets callers drop what they cached

    def add(self, market: Market, sessions: list[Session]) -> int:
        """Fold published sessions in (newer replace what they overlap); return how many."""
        timeline = self.published.setdefault(market, [])
        for new in sorted(s for s in sessions if s.end_ns > s.start_ns):
            timeline[:] = [
                s for s in timeline if s.end_ns <= new.start_ns or s.start_ns >= new.end_ns
            ]
            bisect.insort(timeline, new)
        del timeline[: max(0, len(timeline) - MAX_SESSIONS)]
        self.version += 1
        return len(sessions)

    def session_at(self, market: Market, ts_ns: int) -> SessionType:
        """Return the session `market` is in at `ts_ns` (published, else the template)."""
        if market == "CRYPTO":
            return "REGULAR"
        timeline = self.published.get(market, [])
        i = bisect.bisect_right(timeline, Session(ts_ns, 2**63, "REGULAR")) - 1
        if i >= 0 and timeline[i].start_ns <= ts_ns < timeline[i].end_ns:
            return timeline[i].type
        return template_session(market, ts_ns)

    def is_open(self, market: Market, ts_ns: int) -> bool:
        """Return False while `market` is in NO_TRADING (prices may freeze, feeds go quiet)."""
        return self.session_at(market, ts_ns) != "NO_TRADING"


def template_session(market: Market, ts_ns: int) -> SessionType:
    """Return the usual session of `market` at `ts_ns` (New York hours, DST-aware)."""
    local = dt.datetime.fromtimestamp(ts_ns / NS, tz=NEW_YORK)
    minute = local.hour * 60 + local.minute
    day = local.weekday()  # Monday 0 … Sunday 6
    if market == "COMMODITY":
        return _commodity(day, minute)
    if market == "EQUITY":
        return _equity(day, minute)
    return "REGULAR"


def _equity(day: int, minute: int) -> SessionType:
    if day == 5 or (day == 4 and minute >= 20 * 60) or (day == 6 and minute < 20 * 60):
        return "NO_TRADING"  # Friday 20:00 to Sunday 20:00
    if minute >= 20 * 60 or minute < 4 * 60:
        return "OVERNIGHT"
    if minute < 9 * 60 + 30:
        return "PRE_MARKET"
    return "REGULAR" if minute < 16 * 60 else "AFTER_MARKET"


def _commodity(day: int, minute: int) -> SessionType:
    if day == 5 or (day == 4 and minute >= 17 * 60) or (day == 6 and minute < 18 * 60):
        return "NO_TRADING"  # Friday 17:00 to Sunday 18:00
    if day < 5 and 17 * 60 <= minute < 18 * 60:
        return "NO_TRADING"  # the daily maintenance hour
    return "REGULAR"
