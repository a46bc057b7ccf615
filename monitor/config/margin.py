"""The ``margin`` config section: calendar files to watch and risk-tier pollers.

The token of ``POST /api/v1/margin-changes`` is the existing ``http.api_token``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from monitor.config._base import PosFloat, _Section

PollerVenue = Literal["bybit", "okx", "hyperliquid"]
Confidence = Literal["low", "medium", "high"]


class MarginSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Margin-change inputs: calendars, risk-tier pollers and their cadence."""

    calendars: tuple[str, ...] = ()
    """CSV/YAML calendar files to watch (``~`` expanded); format in monitor/margin/calendar.py."""
    calendar_check_s: PosFloat = 5.0  # seconds between checks of each calendar file
    min_confidence: Confidence = "low"  # calendar rows less sure than this are left out
    pollers: tuple[PollerVenue, ...] = ("bybit", "okx", "hyperliquid")
    poll_interval_s: PosFloat = 60.0  # seconds between polls while no alert is open
    poll_interval_alert_s: PosFloat = 15.0  # seconds between polls while an alert is open
    poll_timeout_s: PosFloat = 10.0  # bound on each REST request, seconds
    bybit_symbols: tuple[str, ...] = ()
    """Bybit linear symbols to poll one by one; empty: every symbol (≈ 35 pages a poll)."""
    okx_families: tuple[str, ...] = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "XAU-USDT")
    """OKX instrument families (one request each); OKX needs them for SWAP tiers."""
    hyperliquid_coins: tuple[str, ...] = ()  # empty: every listed coin (one request)
    rest_override: dict[str, str] = msgspec.field(default_factory=dict)
    """venue → ``http://host:port`` to poll instead (proxies, tests); same paths."""
