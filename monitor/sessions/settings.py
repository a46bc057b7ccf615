"""The ``sessions`` config section: how TradFi market sessions shape detection and polling."""

from __future__ import annotations

import msgspec

from monitor.config._base import NonNegFloat, PosFloat, _Section
from monitor.sessions.calendar import Market


class SessionSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Market sessions of TradFi perps (see `monitor.sessions`).

    While an instrument's underlying market is in ``NO_TRADING`` its price and liquidation
    baselines do not learn and its venue's silence is not a ``data_gap``; for
    ``reopen_settle_s`` after the market reopens, signals on its scopes are held back and
    baselines still do not learn (the reopening gap is priced in at once, every week).
    """

    enabled: bool = True
    reopen_settle_s: NonNegFloat = 600.0  # after a NO_TRADING session ends, seconds
    fetch_schedule: bool = True  # live: GET Binance's tradingSchedule (cached under state.dir)
    schedule_refresh_s: PosFloat = 86_400.0  # refetch the schedule this often, seconds
    schedule_timeout_s: PosFloat = 10.0  # bound on one schedule request, seconds
    stream_sessions: bool = True  # live: Binance's tradingSession WebSocket (a change at once)
    stream_stale_s: PosFloat = 30.0  # reconnect that stream after this long without a push
    markets: dict[str, Market] = msgspec.field(default_factory=dict)
    """Override: ``exchange:SYMBOL`` or asset → the market whose sessions it follows
    (``EQUITY``, ``COMMODITY``, or ``CRYPTO`` for around the clock). Default: its asset
    class (equity and index → EQUITY, metal and energy → COMMODITY, else CRYPTO)."""
