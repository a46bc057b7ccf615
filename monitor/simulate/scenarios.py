"""The named scenarios: ``calm``, ``hawkes`` and ``feb-2026``.

``calm``
    Every asset of `monitor.simulate.market.ASSETS` (BTC, ETH on three venues; SOL, XRP on
    two; XAU, XAG, NVDA, TSLA, MSTR on Bybit and Hyperliquid), calm liquidations (see the
    market module for rates and sizes) and ticks every ``tick_s`` (default 1 s) with
    bid/ask and open interest. Default span 6 h from 2026-01-05T00:00Z.

``hawkes``
    The calm background plus ``cascades`` Hawkes cascades (branching ``n``, default 0.7) on
    the chosen assets in turn, spread evenly after a 2 h warm-up. Each cascade: immigrants
    over an 8–20 min ramp (rising density), two-exponential kernel (15 s / 4 min), marks
    log-normal with a median 5× the asset's calm median (σ 1.4, γ 0.3), 80–93 % longs, an
    expected size drawn around the asset's `CASCADE_USD` (log-normal, σ 0.5), the price
    falling by 1.2–3× the asset's daily volatility as the cascade's USD arrives, spreads
    widening 5–12×. Labels (every scenario): onset = the first UTC minute, from the ramp
    start, whose asset liquidations exceed the asset's 1-in-1-day calm minute level
    (the ramp start itself has zero density and is unobservable), peak =
    the UTC minute with the most cascade USD, end = when 95 % of it has arrived (rounded up
    to a minute). Default span 24 h, ticks every 5 s.

``feb-2026``
    The margin-hike cascade of 2026-02-05/06, from 2026-02-05T00:00Z for
    30 h, ticks every 10 s (≈ 216k ticks + ≈ 80k liquidations). Times (UTC, Feb 5 unless
    said):

    =========== ==========================================================================
    06:00–12:00 Shanghai-led metals slide: silver −4.5 %, gold −0.7 %; crypto stress starts
                as a lull (CoinGlass: BTC $2.7M/h after a $12M/h night)
    12:00       CME notices (T0): GC 8 → 9 %, SI 15 → 18 % of notional (D = 11.1 %, 16.7 %),
                effective after the close of Feb 6 (22:00Z). Notice time synthetic.
    12:30–15:00 Silver cascade ($60M, 90 % longs, n 0.8): silver −19 % by 14:30; gold −3 %
    15:00–16:00 Crypto wave 1 at the US open (BTC −3 %, $220M BTC)
    21:00–23:00 Main crypto cascade as $70k breaks (BTC $900M, ~$500M in the peak hour):
                BTC −12.8 % to $63,860 at 22:30; ETH −13 %, SOL −14 %, XRP −22 %
    23:06–00:30 Equity perps, cross-margined accounts: NVDA −6 %, TSLA −8 %, MSTR −17 %
    Feb 6 00:36 Crypto wave 3 (BTC $290M, 78 % longs) to a new low
    =========== ==========================================================================

    BTC liquidations total ≈ $2.07B over the file (stress $640M + waves $1.41B + calm),
    ~85 % longs. ETH, SOL and XRP get 0.42×, 0.14× and 0.10× of BTC's USD, 1–3 min later.
    NB: §3.1 gives $2.069B as CoinGlass' *all-crypto* 24 h figure (BTC was $1.35B of
    $2.6B in a later snapshot); here BTC alone carries $2.07B, as the issue states it.
    Spreads widen up to 17× (crypto main wave, the synthetic seed value), 10× silver,
    12× equity perps. Nasdaq-linked perps drift −1.5 %/day before their cascade.
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from monitor.config import AssetSettings
from monitor.evaluation.labels import Label
from monitor.events import NS, AssetClass, Event, MarginChange, tightening_of
from monitor.simulate.hawkes import Kernel, Marks, descendants, profile_times, ramp_immigrants
from monitor.simulate.market import ASSETS
from monitor.simulate.model import Cluster, World
from monitor.simulate.world import render, specs_of

SCENARIOS: Final[tuple[str, ...]] = ("calm", "hawkes", "feb-2026")
CASCADE_USD: Final[dict[str, float]] = {
    "BTC": 80e6, "ETH": 40e6, "SOL": 15e6, "XRP": 12e6, "XAU": 10e6, "XAG": 12e6,
    "NVDA": 8e6, "TSLA": 8e6, "MSTR": 8e6,
}  # fmt: skip
"""Expected USD of one ``hawkes`` cascade per asset (before the log-normal size draw)."""
HAWKES_ASSETS: Final = ("BTC", "ETH", "SOL", "XRP", "XAG")
CASCADE_KERNEL: Final = Kernel(fast_s=15.0, slow_s=240.0, fast_weight=0.5)
H: Final = 3600.0

_STREAM_CASCADE, _STREAM_FEB = 10, 20


def _epoch_ns(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * NS


DEFAULTS: Final[dict[str, tuple[int, float, float]]] = {
    "calm": (_epoch_ns("2026-01-05T00:00:00Z"), 6 * H, 1.0),
    "hawkes": (_epoch_ns("2026-01-05T00:00:00Z"), 24 * H, 5.0),
    "feb-2026": (_epoch_ns("2026-02-05T00:00:00Z"), 30 * H, 10.0),
}
"""Per scenario: (start, epoch ns; duration, s; tick interval, s)."""


def _default_classes() -> dict[str, AssetClass]:
    return dict(AssetSettings().classes)


@dataclass(frozen=True, slots=True)
class SimParams:
    """What to simulate.

    Attributes:
        scenario: one of `SCENARIOS`.
        seed: the random seed.
        start_ns: epoch ns of the start; None for the scenario's default.
        duration_s: span, seconds; None for the scenario's default.
        tick_s: seconds between ticks of one instrument; None for the scenario's default.
        branching: ``hawkes``: the cascades' branching ratio n, 0 ≤ n < 1.
        cascades: ``hawkes``: how many cascades.
        assets: ``hawkes``: the assets that cascade, in turn (empty: `HAWKES_ASSETS`).
        cascade_usd: ``hawkes``: expected USD per cascade for every asset (None: the
            per-asset `CASCADE_USD`).
        classes: asset → asset class (the config's ``assets.classes``).
    """

    scenario: str
    seed: int = 0
    start_ns: int | None = None
    duration_s: float | None = None
    tick_s: float | None = None
    branching: float = 0.7
    cascades: int = 4
    assets: tuple[str, ...] = ()
    cascade_usd: float | None = None
    classes: Mapping[str, AssetClass] = field(default_factory=_default_classes)


def simulate(params: SimParams) -> tuple[list[Event], list[Label]]:
    """Return the scenario's events (sorted by event time) and its ground-truth labels.

    Raises:
        ValueError: an unknown scenario or asset, or a parameter out of range.
    """
    return render(build(params))


def build(params: SimParams) -> World:
    """Return the `World` of a scenario (see the module docstring).

    Raises:
        ValueError: an unknown scenario or asset, or a parameter out of range.
    """
    if params.scenario not in DEFAULTS:
        raise ValueError(
            "unknown scenario %r (known: %s)" % (params.scenario, ", ".join(SCENARIOS))
        )
    start, duration, tick = DEFAULTS[params.scenario]
    duration = params.duration_s if params.duration_s is not None else duration
    tick = params.tick_s if params.tick_s is not None else tick
    if not duration > 0 or not tick > 0:
        msg = "duration and tick interval must be positive"
        raise ValueError(msg)
    world = World(
        name=params.scenario,
        seed=params.seed,
        start_ns=params.start_ns if params.start_ns is not None else start,
        duration_s=duration,
        tick_s=tick,
        assets=specs_of(list(ASSETS)),
        classes=params.classes,
    )
    if params.scenario == "hawkes":
        _add_hawkes(world, params)
    elif params.scenario == "feb-2026":
        _add_feb_2026(world)
    return world


# ---- hawkes --------------------------------------------------------------------------------


def _add_hawkes(world: World, params: SimParams) -> None:
    if not 0.0 <= params.branching < 1.0:
        raise ValueError("branching ratio must be in [0, 1), got %r" % params.branching)
    if params.cascades < 0:
        raise ValueError("cascades must be ≥ 0, got %d" % params.cascades)
    assets = list(params.assets or HAWKES_ASSETS)
    specs_of(assets)  # validates the names
    warm = min(2 * H, world.duration_s / 4)
    usable = max(world.duration_s - warm - min(H, world.duration_s / 8), 0.0)
    spacing = usable / max(params.cascades, 1)
    n = params.branching
    for i in range(params.cascades):
        rng = world.rng(_STREAM_CASCADE, i)
        spec = ASSETS[assets[i % len(assets)]]
        onset = warm + (i + rng.uniform(0.2, 0.6)) * spacing
        marks = Marks(5.0 * spec.mark_median_usd, sigma=1.4)
        size = params.cascade_usd or CASCADE_USD[spec.asset]
        target = size * math.exp(rng.normal(0.0, 0.5))
        roots = ramp_immigrants(
            rng, max(1, round(target * (1 - n) / marks.mean_usd)), onset, rng.uniform(480, 1200)
        )
        t, m = descendants(rng, roots, n, marks, CASCADE_KERNEL)
        world.clusters.append(
            Cluster(
                asset=spec.asset,
                onset_s=onset,
                times_s=t,
                usd=m,
                long_share=rng.uniform(0.80, 0.93),
                label="hawkes-%d-%s" % (i + 1, spec.asset),
                drop=rng.uniform(1.2, 3.0) * spec.daily_vol,
                spread_mult=rng.uniform(5.0, 12.0),
            )
        )


# ---- feb-2026 ------------------------------------------------------------------------------

BTC_PATH: Final[tuple[tuple[float, float], ...]] = (
    (0.0, 1.0), (6.0, 0.997), (12.0, 0.99), (15.0, 0.986), (15.75, 0.958), (18.0, 0.965),
    (21.0, 0.956), (21.67, 0.89), (22.25, 0.865), (22.5, 0.8724), (23.5, 0.882),
    (24.5, 0.876), (25.25, 0.852), (27.0, 0.866), (30.0, 0.872),
)  # fmt: skip
"""BTC relative to $73,200 by hour since Feb 5 00:00Z: −12.76 % ($63,860) at 22:30."""
CRYPTO_BETA: Final[dict[str, float]] = {"BTC": 1.0, "ETH": 1.03, "SOL": 1.1, "XRP": 1.82}
"""Log-return multiple of BTC's path: ETH −13 %, SOL −14 %, XRP −22 % at 22:30."""
CRYPTO_USD: Final[dict[str, float]] = {"BTC": 1.0, "ETH": 0.42, "SOL": 0.14, "XRP": 0.10}
CRYPTO_LAG_MIN: Final[dict[str, float]] = {"BTC": 0.0, "ETH": 1.0, "SOL": 2.0, "XRP": 3.0}
FEB_PATHS: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    "XAG": (
        (0.0, 1.0), (2.0, 1.02), (6.0, 1.0), (12.0, 0.955), (12.5, 0.95), (13.0, 0.87),
        (13.5, 0.845), (14.5, 0.81), (16.0, 0.83), (20.0, 0.82), (22.0, 0.812), (26.0, 0.80),
        (30.0, 0.81),
    ),
    "XAU": (
        (0.0, 1.0), (12.0, 0.993), (13.0, 0.975), (14.5, 0.968), (22.0, 0.965), (30.0, 0.97),
    ),
    "NVDA": ((0.0, 1.0), (23.1, 0.985), (23.6, 0.94), (24.5, 0.935), (30.0, 0.93)),
    "TSLA": ((0.0, 1.0), (23.1, 0.985), (23.6, 0.925), (24.5, 0.92), (30.0, 0.915)),
    "MSTR": ((0.0, 1.0), (21.0, 0.96), (23.1, 0.93), (23.6, 0.83), (24.5, 0.83), (30.0, 0.835)),
}  # fmt: skip
"""Metals and equity perps relative to their start price, by hour since Feb 5 00:00Z."""
T0_H: Final = 12.0  # CME notice, hours after the start
EFFECTIVE_H: Final = 46.0  # after the close of Feb 6 (Globex metals halt, 22:00Z)
BTC_STRESS_USD: Final = 640e6
# BTC stress before the US open, USD per hour over 06–12 and 12–15 UTC (see `_stress`)
STRESS_PRE_US_BTC_USD_H: Final = (0.25e6, 0.25e6)
BTC_WAVES: Final[tuple[tuple[str, float, float, float, float, float, float], ...]] = (
    # name, onset h, ramp min, branching, USD, long share, spread multiple
    ("wave-1", 15.0, 25.0, 0.7, 220e6, 0.88, 5.0),
    ("main", 21.0, 30.0, 0.8, 900e6, 0.90, 17.0),
    ("wave-3", 24.6, 25.0, 0.7, 290e6, 0.78, 8.0),
)
EQUITY_USD: Final[dict[str, float]] = {"NVDA": 18e6, "TSLA": 22e6, "MSTR": 35e6}
SOURCE: Final = "https://www.c114pro.com/newsflashes/145065.html"


@dataclass(frozen=True, slots=True)
class _Burst:
    asset: str
    onset_h: float
    ramp_min: float
    branching: float
    usd: float
    long_share: float
    spread_mult: float
    label: str | None


def _add_feb_2026(world: World) -> None:
    for asset, path in FEB_PATHS.items():
        world.anchors[asset] = [(h * H, r) for h, r in path]
    for asset, beta in CRYPTO_BETA.items():
        world.anchors[asset] = [(h * H, r**beta) for h, r in BTC_PATH]
    bursts = [
        _Burst("XAG", 12.5, 20.0, 0.8, 60e6, 0.90, 10.0, "feb-XAG"),
        _Burst("XAU", 12.6, 25.0, 0.6, 12e6, 0.85, 4.0, "feb-XAU"),  # gold −3 %, a small one
    ]
    for asset, usd_mult in CRYPTO_USD.items():
        lag = CRYPTO_LAG_MIN[asset] / 60.0
        for name, onset, ramp, n, usd, share, spread in BTC_WAVES:
            label = "feb-%s-%s" % (asset, name)
            bursts.append(_Burst(asset, onset + lag, ramp, n, usd * usd_mult, share, spread, label))
    for asset, usd in EQUITY_USD.items():
        bursts.append(_Burst(asset, 23.1, 20.0, 0.75, usd, 0.91, 12.0, "feb-%s" % asset))
    for k, burst in enumerate(bursts):
        world.clusters.append(_feb_cluster(world, k, burst))
    for k, asset in enumerate(CRYPTO_USD):
        world.clusters.append(_stress(world, 100 + k, asset, BTC_STRESS_USD * CRYPTO_USD[asset]))
    world.clusters.append(_stress(world, 200, "XAU", 8e6))
    world.margin_changes += _cme_notices(world)


def _feb_cluster(world: World, k: int, b: _Burst) -> Cluster:
    rng = world.rng(_STREAM_FEB, k)
    spec = ASSETS[b.asset]
    marks = Marks(max(25_000.0 * spec.mark_median_usd / 3_000.0, 2_000.0), sigma=1.4)
    n_roots = max(1, round(b.usd * (1 - b.branching) / marks.mean_usd))
    onset = b.onset_h * H
    roots = ramp_immigrants(rng, n_roots, onset, b.ramp_min * 60.0)
    t, m = descendants(rng, roots, b.branching, marks, CASCADE_KERNEL)
    cluster = Cluster(b.asset, onset, t, m, b.long_share, b.label, spread_mult=b.spread_mult)
    return cluster.scaled_to(b.usd)


def _stress(world: World, k: int, asset: str, usd: float) -> Cluster:
    """Diffuse forced selling from 06:00 through the day, heaviest in the US evening.

    The morning follows the shape of CoinGlass' BTC hourly liquidations of 2026-02-05
    rather than a fixed multiple of calm. That night was busy (01:00–05:59 UTC: $4.2M,
    17.6M, 5.8M, 16.0M, 18.1M; mean $12.3M/h) and 06:00–10:59 was a lull ($0.76M, 5.14M,
    1.55M, 2.93M, 2.95M; mean $2.7M/h, 0.22× the night), as was 13:00–14:59 ($1.2M, 7.9M).
    A live detector had learned the busy night as its recent baseline, so the lull raised
    nothing. The scenario has no such night (it is calm from 00:00), so the lull is kept
    as a lull against *its* background: `STRESS_PRE_US_BTC_USD_H` adds $0.25M/h (0.5× the
    calm $0.5M/h) before 15:00. The rest of `usd` goes to 15:00–06:00 (next day) with
    relative levels 3 : 4 : 2.5 (US afternoon, main-cascade hours, Asia). Amounts scale
    by the asset's `CRYPTO_USD` share. The earlier profile (a steady ~$11.5M/h from 06:00,
    20× calm) had no basis in the data and was a burst of its own before silver's.
    """
    rng = world.rng(_STREAM_FEB, k)
    spec = ASSETS[asset]
    marks = Marks(max(15_000.0 * spec.mark_median_usd / 3_000.0, 1_500.0), sigma=1.3)
    knots = np.array([6.0, 12.0, 15.0, 21.0, 23.0, 30.0]) * H
    share = usd / BTC_STRESS_USD  # the asset's USD relative to BTC's
    pre = np.array(STRESS_PRE_US_BTC_USD_H) * share  # USD per hour, 06–12 and 12–15
    rest = usd - float(pre @ np.diff(knots[:3])) / H
    late = np.array([3.0, 4.0, 2.5])
    late *= rest / float(late @ np.diff(knots[2:]) / H)
    levels = np.concatenate([pre, late])
    t = profile_times(rng, knots, levels, usd / marks.mean_usd)
    cluster = Cluster(asset, knots[0], t, marks.draw(rng, t.size), 0.80)
    return cluster.scaled_to(usd)


def _cme_notices(world: World) -> list[MarginChange]:
    notice = world.start_ns + round(T0_H * H) * NS
    if notice >= world.start_ns + world.duration_s * NS:
        return []
    effective = world.start_ns + round(EFFECTIVE_H * H) * NS
    out = []
    for product, asset, old, new in (("GC", "XAU", 8.0, 9.0), ("SI", "XAG", 15.0, 18.0)):
        out.append(
            MarginChange(
                venue="cme",
                product=product,
                asset=asset,
                asset_class=world.classes.get(asset, "metal"),
                basis="pct_notional",
                old=old,
                new=new,
                tightening=tightening_of("pct_notional", old, new),
                notice_ts_ns=notice,
                effective_ts_ns=effective,
                source="CME Clearing notice 2026-02-05, %s %g%% -> %g%% of notional, effective "
                "after the close of 2026-02-06 (simulated notice time); %s"
                % (product, old, new, SOURCE),
                event_id="sim-feb-2026-cme-%s-20260205" % product,
            )
        )
    return out
