"""Venue sources config: which venues, catalogue cache, backoff, overrides, seed symbols."""

from __future__ import annotations

import msgspec

from monitor.config._base import Pos, PosFloat, _Section


class SourcesSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Venue sources (ids as in ``monitor.events.EXCHANGES``) and how the runner treats them."""

    enabled: tuple[str, ...] = ("binance_usdm", "binance_coinm", "bybit", "okx")
    cache_dir: str = "~/.cache/liqmon"  # instrument catalogue cache
    refresh_s: Pos = 6 * 3600  # catalogue refresh period
    rest_timeout_s: PosFloat = 10.0
    backoff_initial_s: PosFloat = 1.0
    backoff_max_s: PosFloat = 60.0
    quiet_max_s: PosFloat = 900.0  # a liquidation stream silent this long while prices flow: dead
    queue_max_events: Pos = 100_000  # per venue, between the socket readers and the bus
    # An event whose time is further than this from its receive time is counted
    # (liqmon_events_rejected_total{reason="time"}) and dropped: it never moves the watermark.
    max_clock_skew_s: PosFloat = 300.0
    # Instruments missing from the catalogues (built from their names) admitted across all
    # venues, first come; later ones fold into the asset "other"
    # (liqmon_assets_folded_total). Listed, seed and watched instruments never fold.
    max_unknown_instruments: Pos = 1_000
    endpoint_override: dict[str, str] = msgspec.field(default_factory=dict)
    """venue → ``ws://host:port``: connect there instead, same paths (proxies, tests)."""
    rest_override: dict[str, str] = msgspec.field(default_factory=dict)
    """venue → ``http://host:port`` for its REST endpoints (instruments, klines, polls)."""
    open_interest_poll: bool = True  # live: poll OI by REST (binance_usdm, binance_coinm, htx)
    open_interest_poll_s: PosFloat = 60.0  # each watched symbol once per this, seconds
    symbols: dict[str, tuple[str, ...]] = msgspec.field(
        default_factory=lambda: {
            "binance_usdm": (
                "BTCUSDT",
                "ETHUSDT",
                "SOLUSDT",
                "XRPUSDT",
                "XAUUSDT",
                "XAGUSDT",
                "TSLAUSDT",
            ),
            "binance_coinm": ("BTCUSD_PERP", "ETHUSD_PERP"),
            "bybit": (
                "BTCUSDT",
                "ETHUSDT",
                "SOLUSDT",
                "XRPUSDT",
                "XAUUSDT",
                "XAGUSDT",
                "NVDAUSDT",
                "TSLAUSDT",
                "BTCUSD",
            ),
            "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP", "XAU-USDT-SWAP"),
        }
    )
    """venue → seed symbols used when neither the catalogue nor its cache is available."""
