"""Core config sections: HTTP, logging, aggregation, detection, assets."""

from __future__ import annotations

from typing import Literal

import msgspec

from monitor.config._base import HostPort, NonNeg, NonNegFloat, Pos, PosFloat, Ratio, _Section
from monitor.config.gaps import DataGapSettings
from monitor.config.signals import (
    DeleveragingSettings,
    LiquiditySettings,
    SaturationSettings,
    ThresholdRule,
)
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
    """Windowing."""

    micro_batch_ms: Pos = 250  # engine pulls a batch at least this often
    micro_batch_max_events: Pos = 50_000
    # A second closes once an event grace_ms newer than its end was seen (the watermark).
    # An event whose second has closed is late: it counts in the first open second, unless
    # its second is below that of (newest event - allowed_lateness_ms): then it is dropped.
    grace_ms: NonNeg = 250
    allowed_lateness_ms: NonNeg = 2_000
    windows_s: tuple[Pos, ...] = (10, 60, 300, 900, 3600)
    idle_eval_s: Pos = 10  # evaluation step while alerts are open and no data arrives
    # Kafka stage 1: a micro-batch that takes longer pauses its partitions for the overrun
    tick_budget_ms: Pos = 1_000


class BurstSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Liquidation-burst detector (per asset, asset class and market).

    Over ``window_s`` a scope is hot when its liquidated USD ≥ the floor of its level, one
    side's share ≥ ``min_side_share``, it saw ≥ ``min_events`` liquidations, and at least one
    of: the robust z of log(1 + L/ref_usd) against the scope's hour-of-week baseline ≥
    ``z_warning``; the per-minute CUSUM ≥ ``cusum_h``; the Hawkes intensity ratio λ̂/μ̂ ≥
    ``intensity_ratio_warning``; and, for any of them, λ̂/μ̂ ≥ ``intensity_ratio_min`` (a
    cascade raises the liquidation rate, a few whale prints only the USD). During the first
    ``warmup_min`` minutes of a scope only the absolute floor × ``warmup_floor_multiple``
    decides (with side share and events).
    """

    window_s: Pos = 60
    # floors near a calm asset's 1-in-1-day minute level: the relative tests then decide,
    # and a cascade is seen in its first minute (higher floors cost minutes of delay)
    floor_usd_asset: PosFloat = 50_000.0
    floor_usd_class: PosFloat = 250_000.0
    floor_usd_market: PosFloat = 500_000.0
    floor_usd_by_asset: dict[str, PosFloat] = msgspec.field(
        default_factory=lambda: {"BTC": 150_000.0, "ETH": 100_000.0}
    )
    ref_usd: PosFloat = 10_000.0
    z_warning: PosFloat = 4.0
    z_critical: PosFloat = 6.0
    critical_floor_multiple: PosFloat = 5.0  # ≥ this × floor is critical whatever z
    min_side_share: Ratio = 0.65  # the window mixes a cascade's side with calm two-sided flow
    min_events: NonNeg = 3  # liquidations in the window: one whale print is not a cascade
    baseline_half_life_min: PosFloat = 1440.0
    seasonal_half_life_min: PosFloat = 240.0  # per hour-of-week bucket: ~4 weeks of it
    seasonal_prior_min: PosFloat = 120.0  # bucket minutes that weigh as much as the prior
    min_sd: PosFloat = 0.75  # floor of the baseline's sd, log units
    cusum_k: PosFloat = 0.5  # allowance, sd units (detects shifts of ~2k quickly)
    cusum_h: PosFloat = 8.0  # alarm level, sd units (one-sided ARL0 ≈ 19,000 minutes)
    intensity_tau_s: PosFloat = 30.0  # kernel time constant of λ̂, seconds
    intensity_ratio_warning: PosFloat = 8.0
    intensity_ratio_hold: PosFloat = 7.0  # a scope in alert passes λ̂/μ̂ from here (hysteresis)
    intensity_ratio_min: PosFloat = 3.0  # every trigger needs λ̂/μ̂ ≥ this
    intensity_ratio_critical: PosFloat = 50.0
    min_rate_per_min: PosFloat = 1.0  # floor (prior) of the baseline rate μ̂, events/min
    warmup_min: NonNeg = 60  # minutes before z, CUSUM and λ̂/μ̂ count
    warmup_floor_multiple: PosFloat = 20.0  # warm-up floor: 20 × ($1M an asset, $3M BTC)
    # hot this long before firing (other detectors: lifecycle.for_s); Hawkes n ≥ 0.7:
    # median delay 73 s with 20, 54 s with 10, false alarms 0.037 per asset-day with both
    for_s: NonNeg = 10
    # Alert budget: an ordinary minute of a scope opens an alert at most `budget_alerts` times
    # per `budget_days` days. A new alert (not one already open) needs its window z at or above
    # the z that the scope's own per-minute z passes at that rate, from an exponential tail
    # above `tail_u` fitted to the scope's history (monitor/aggregate/detect/burst_tail.py;
    # counts with half-life `tail_half_life_days`). The prior (share of minutes above u, mean
    # excess; worth `tail_prior_days`) is a Gaussian z's. 0 alerts: no budget. 1 per 2.5 days:
    # on real BTC liquidations (CoinGlass hourly, Nov 2025-Jan 2026) the loosest budget with ≤
    # 0.10 incidents a day outside the busiest 3 % of hours; 1 per 14 days alerted in only 41 %
    # of the busiest 1 % (docs/detection.md)
    budget_alerts: NonNegFloat = 1.0
    budget_days: PosFloat = 2.5
    tail_u: PosFloat = 2.0
    tail_half_life_days: PosFloat = 30.0
    tail_prior_p_u: Ratio = 0.02
    tail_prior_sigma: PosFloat = 0.33
    tail_prior_days: PosFloat = 2.0


class CrashSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Price-crash velocity detector (per instrument, alerts on its asset).

    Hot when either test passes in some window (`monitor.aggregate.detect.crash`):

    - own history: the fall score (fall from the window's high over the long-run 1-minute
      sd, the median of ``vol_days`` of hourly variances, scaled to the window) reaches the
      Gumbel return level of the instrument's hourly maxima over ``tail_days`` for one alert
      per ``budget_days``, and the fall is at least ``guard_drop``; ``prior_z`` until
      ``tail_min_hours`` of history;
    - absolute: the fall reaches ``min_drop`` and ``z_warning`` sd of the 1-day EWMA.

    Defaults chosen on real Binance klines (docs/detection.md, "Own-history thresholds"):
    the budget of one per 30 days and the guard floors kept BTC quiet on four calm months
    and caught its 2026-01 crashes; the absolute floors catch the altcoin waves of
    2026-02-05, which came on already volatile days.
    """

    windows_s: tuple[Pos, ...] = (300, 900, 1800, 3600)
    min_drop: tuple[Ratio, ...] = (0.03, 0.04, 0.05, 0.06)  # absolute test, per window
    z_warning: PosFloat = 5.0  # absolute test: sd of the 1-day EWMA
    z_critical: PosFloat = 10.0
    budget_days: PosFloat = 30.0  # own history: one alert per this many days is ordinary
    critical_days: PosFloat = 365.0  # own history: critical from this return period
    guard_drop: tuple[Ratio, ...] = (0.05, 0.025, 0.03, 0.035)  # own history: sanity floor
    prior_z: tuple[PosFloat, ...] = (14.0, 11.0, 10.0, 9.0)  # own history before a fit
    min_z: PosFloat = 4.0  # own history: never below this fall score
    vol_days: PosFloat = 14.0  # long-run sd: days of hourly variances
    tail_days: PosFloat = 30.0  # hourly fall maxima kept for the fit
    tail_min_hours: NonNeg = 72  # hours of maxima before the fit replaces prior_z
    baseline_half_life_min: PosFloat = 1440.0
    prior_sd_1m: PosFloat = 0.003  # 1-minute return sd assumed during warm-up
    warmup_min: NonNeg = 120


class LifecycleSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alert state machine: pending → firing → resolved, waves and cooldown."""

    for_s: NonNeg = 20  # hot this long while pending before firing (bursts: burst.for_s)
    resolve_after_s: Pos = 600  # cold this long while firing before resolved
    cooldown_s: NonNeg = 3600  # hot again within this after resolved: next wave


class MarginHikeSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Margin-hike cascade overlay.

    A tightening D ≥ ``min_tightening`` arms its asset from the notice until the effective
    time + ``horizon_h``. The alert fires when the armed asset (or its class) is in a
    cascade and cascades have reached another asset class within ``spread_h`` of it.
    """

    min_tightening: Ratio = 0.10
    horizon_h: PosFloat = 48.0
    spread_h: PosFloat = 24.0


class ContagionSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cross-asset contagion: breadth of cascades across asset classes, downside correlation.

    Breadth is the number of asset classes with a scope whose cascade alert was firing at
    some time in the last ``window_h``. Hot while a cascade fires now and the breadth is at
    least ``min_classes``; critical from ``critical_classes``, or when the downside
    correlation of ``corr_assets`` (1-minute returns over ``corr_lookback_min``, minutes
    when their mean return is negative, averaged over pairs of different classes) is at
    least ``corr_critical`` and at least ``corr_rise`` above its EWMA baseline.
    """

    min_classes: Pos = 2
    critical_classes: Pos = 3
    window_h: PosFloat = 12.0
    corr_assets: tuple[str, ...] = (
        "BTC", "ETH", "SOL", "XRP", "XAU", "XAG", "NVDA", "TSLA", "MSTR", "SPX", "NDX", "WTI"
    )  # fmt: skip
    corr_lookback_min: Pos = 60
    corr_min_minutes: Pos = 10  # down minutes needed before the correlation counts
    corr_critical: Ratio = 0.6
    corr_rise: Ratio = 0.3
    corr_baseline_half_life_min: PosFloat = 10080.0  # one week


class DetectSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Detector thresholds (documented defaults; see docs/detection.md)."""

    burst: BurstSettings = msgspec.field(default_factory=BurstSettings)
    crash: CrashSettings = msgspec.field(default_factory=CrashSettings)
    lifecycle: LifecycleSettings = msgspec.field(default_factory=LifecycleSettings)
    margin_hike: MarginHikeSettings = msgspec.field(default_factory=MarginHikeSettings)
    contagion: ContagionSettings = msgspec.field(default_factory=ContagionSettings)
    liquidity: LiquiditySettings = msgspec.field(default_factory=LiquiditySettings)
    saturation: SaturationSettings = msgspec.field(default_factory=SaturationSettings)
    deleveraging: DeleveragingSettings = msgspec.field(default_factory=DeleveragingSettings)
    rules: tuple[ThresholdRule, ...] = ()  # user threshold rules (README: Threshold rules)
    data_gap: DataGapSettings = msgspec.field(default_factory=DataGapSettings)


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
