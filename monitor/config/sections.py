"""Core config sections: HTTP, logging, aggregation, detection, assets."""

from __future__ import annotations

from typing import Literal

import msgspec

from monitor.config._base import HostPort, NonNeg, Pos, PosFloat, Ratio, _Section
from monitor.events import AssetClass
from monitor.secret import Secret


class HttpSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The one HTTP port: /metrics, /healthz, /readyz, /api/v1/*."""

    listen: HostPort = "127.0.0.1:9464"  # HOST:PORT; port 0 picks a free one
    api_token: Secret | None = None  # bearer token for POST endpoints


class LogSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Logging output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class AggregateSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Windowing (DESIGN §4)."""

    micro_batch_ms: Pos = 250  # engine pulls a batch at least this often
    micro_batch_max_events: Pos = 50_000
    grace_ms: NonNeg = 2_000  # events older than watermark are late and dropped
    windows_s: tuple[Pos, ...] = (10, 60, 300, 900, 3600)
    idle_eval_s: Pos = 10  # evaluation step while alerts are open and no data arrives
    # Kafka stage 1: a micro-batch that takes longer pauses its partitions for the overrun
    tick_budget_ms: Pos = 1_000


class BurstSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Liquidation-burst detector (per asset, asset class and market).

    Hot when, over ``window_s``: liquidated USD ≥ the floor of the scope's level, the
    robust z of log(1 + L / ref_usd) against the scope's per-minute baseline ≥ ``z_warning``,
    and one side's share ≥ ``min_side_share``.
    """

    window_s: Pos = 60
    floor_usd_asset: PosFloat = 1_000_000.0
    floor_usd_class: PosFloat = 5_000_000.0
    floor_usd_market: PosFloat = 10_000_000.0
    floor_usd_by_asset: dict[str, PosFloat] = msgspec.field(
        default_factory=lambda: {"BTC": 5_000_000.0, "ETH": 3_000_000.0}
    )
    ref_usd: PosFloat = 10_000.0
    z_warning: PosFloat = 4.0
    z_critical: PosFloat = 6.0
    critical_floor_multiple: PosFloat = 5.0  # ≥ this × floor is critical whatever z
    min_side_share: Ratio = 0.75
    baseline_half_life_min: PosFloat = 1440.0
    min_sd: PosFloat = 0.75  # floor of the baseline's sd, log units
    warmup_min: NonNeg = 60  # minutes before z counts; the floor alone decides until then


class CrashSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Price-crash velocity detector (per instrument, alerts on its asset).

    Hot when the drawdown from the highest price of a window reaches both the absolute
    floor and ``z_warning`` standard deviations of that window's baseline return.
    """

    windows_s: tuple[Pos, ...] = (300, 900)
    min_drop: tuple[Ratio, ...] = (0.03, 0.05)  # per window: minimum fall from its high
    z_warning: PosFloat = 6.0
    z_critical: PosFloat = 10.0
    baseline_half_life_min: PosFloat = 1440.0
    prior_sd_1m: PosFloat = 0.003  # 1-minute return sd assumed during warm-up
    warmup_min: NonNeg = 120


class LifecycleSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alert state machine: pending → firing → resolved, waves and cooldown."""

    for_s: NonNeg = 20  # hot this long while pending before firing
    resolve_after_s: Pos = 600  # cold this long while firing before resolved
    cooldown_s: NonNeg = 3600  # hot again within this after resolved: next wave


class MarginHikeSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Margin-hike cascade overlay (DETECTION.md §4).

    A tightening D ≥ ``min_tightening`` arms its asset from the notice until the effective
    time + ``horizon_h``. The alert fires when the armed asset (or its class) is in a
    cascade and cascades have reached another asset class within ``spread_h`` of it.
    """

    min_tightening: Ratio = 0.10
    horizon_h: PosFloat = 48.0
    spread_h: PosFloat = 24.0


class ContagionSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cross-asset contagion: cascades firing in at least ``min_classes`` asset classes."""

    min_classes: Pos = 2
    critical_classes: Pos = 3


class DetectSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Detector thresholds (documented defaults; see README)."""

    burst: BurstSettings = msgspec.field(default_factory=BurstSettings)
    crash: CrashSettings = msgspec.field(default_factory=CrashSettings)
    lifecycle: LifecycleSettings = msgspec.field(default_factory=LifecycleSettings)
    margin_hike: MarginHikeSettings = msgspec.field(default_factory=MarginHikeSettings)
    contagion: ContagionSettings = msgspec.field(default_factory=ContagionSettings)


class AssetSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Asset facts from config, not code."""

    classes: dict[str, AssetClass] = msgspec.field(
        default_factory=lambda: {
            "XAU": "metal",
            "XAG": "metal",
            "XPT": "metal",
            "XPD": "metal",
            "COPPER": "metal",
            "NVDA": "equity",
            "TSLA": "equity",
            "AAPL": "equity",
            "MSFT": "equity",
            "AMZN": "equity",
            "META": "equity",
            "GOOGL": "equity",
            "COIN": "equity",
            "MSTR": "equity",
            "HOOD": "equity",
            "SPX": "index",
            "NDX": "index",
            "US500": "index",
            "US100": "index",
            "WTI": "energy",
            "BRENT": "energy",
            "NATGAS": "energy",
            "EUR": "fx",
            "JPY": "fx",
            "GBP": "fx",
        }
    )
    watch: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "XAU", "XAG", "NVDA", "TSLA")
    """Assets that get their own ``scope`` label value; every other asset is ``other``."""
