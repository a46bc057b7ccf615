"""Rendering a scenario (`World`) into contract events and ground-truth labels.

A `World` says what happens: which assets trade, the calm background, price anchors (the
scenario's intended path), liquidation clusters (cascades) with the price fall each one
drives, spread widening, margin changes. `render` turns it into `Tick`, `Liquidation` and
`MarginChange` events sorted by event time, and one `Label` per labelled cluster.

Determinism: every random stream is a `numpy.random.Generator` seeded from
``(seed, stream, index)``, so a component draws the same numbers whatever else the
scenario contains (the calm background of ``hawkes`` is the ``calm`` scenario's, for the
same seed and span), and the output is identical byte for byte for identical arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from monitor.evaluation.labels import Label
from monitor.events import AssetClass, Event, Liquidation, MarginChange, Tick, event_time_ns
from monitor.simulate.hawkes import F64, Kernel, Marks, descendants, poisson_times
from monitor.simulate.market import (
    ASSETS,
    VENUE_BASIS_BPS,
    VENUE_TICK_OFFSET_MS,
    AssetSpec,
    Instrument,
    instruments_of,
)

NS: Final = 1_000_000_000
DAY_S: Final = 86_400.0
CALM_BRANCHING: Final = 0.3
CALM_KERNEL: Final = Kernel(fast_s=10.0, slow_s=120.0, fast_weight=0.6)
CALM_SIGMA: Final = 1.3
SLIPPAGE: Final = 0.0008  # a liquidation fills this far through the mark, fraction
END_SHARE: Final = 0.95  # a label ends when this share of its cluster's USD has arrived
BUMP_LEAD_S: Final = 120.0  # spreads start widening this long before a cluster's onset

# random-stream ids (the second element of each generator's seed)
_S_NOISE, _S_CALM, _S_ROUTE, _S_SIDES, _S_REF = 1, 2, 3, 4, 5
ONSET_REF_DAYS: Final = 7  # calm days simulated to set an asset's 1-in-1-day minute level


@dataclass(frozen=True, slots=True)
class Cluster:
    """A group of liquidations on one asset (a cascade or a diffuse stress component).

    Attributes:
        asset: asset code.
        onset_s: when the cluster starts, seconds after the world's start.
        times_s: event times, seconds after the start, sorted.
        usd: notionals, USD, aligned with `times_s`.
        long_share: probability that an event liquidates a long, 0..1.
        label: ground-truth label name, or None for an unlabelled component.
        drop: fraction the asset's price falls as the cluster's USD arrives (0: none; the
            scenario's anchors carry the path instead).
        spread_mult: spread multiple at the cluster's peak (1: no widening).
    """

    asset: str
    onset_s: float
    times_s: F64
    usd: F64
    long_share: float
    label: str | None = None
    drop: float = 0.0
    spread_mult: float = 1.0

    def scaled_to(self, total_usd: float) -> Cluster:
        """Return a copy whose notionals sum to `total_usd` (the shape is kept)."""
        factor = total_usd / float(self.usd.sum()) if self.usd.size else 0.0
        return Cluster(
            self.asset, self.onset_s, self.times_s, self.usd * factor, self.long_share,
            self.label, self.drop, self.spread_mult,
        )  # fmt: skip


@dataclass
class World:
    """Everything a scenario specifies; `render` makes it events.

    Attributes:
        name: scenario name (part of every event id).
        seed: the random seed.
        start_ns: epoch ns of the first tick.
        duration_s: span, seconds; nothing is emitted at or after start + duration.
        tick_s: seconds between two ticks of one instrument.
        assets: the assets simulated, in output order.
        classes: asset → asset class (the config's table).
        clusters: liquidation clusters on top of the calm background.
        anchors: per asset, (seconds after start, price relative to the start price)
            points the price path passes through (a Brownian bridge between them).
        margin_changes: margin-change events, emitted at their notice time.
        calm: whether to add the calm background liquidations.
    """

    name: str
    seed: int
    start_ns: int
    duration_s: float
    tick_s: float
    assets: list[AssetSpec]
    classes: Mapping[str, AssetClass]
    clusters: list[Cluster] = field(default_factory=list)
    anchors: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    margin_changes: list[MarginChange] = field(default_factory=list)
    calm: bool = True

    def rng(self, stream: int, index: int = 0) -> np.random.Generator:
        """Return the generator of one random stream (independent of all others)."""
        return np.random.default_rng([self.seed, stream, index])


@dataclass
class _AssetPath:
    """The rendered price state of one asset on the tick grid."""

    log_price: F64
    spread_mult: F64


def render(world: World) -> tuple[list[Event], list[Label]]:
    """Return the world's events sorted by event time, and its ground-truth labels."""
    n_ticks = max(1, math.ceil(world.duration_s / world.tick_s))
    grid = np.arange(n_ticks, dtype=np.float64) * world.tick_s
    events: list[Event] = list(world.margin_changes)
    for index, spec in enumerate(world.assets):
        clusters = [c for c in world.clusters if c.asset == spec.asset]
        path = _price_path(world, index, spec, grid, clusters)
        instruments = instruments_of(spec, world.classes)
        liq_events, cum = _liquidations(world, index, spec, instruments, path, clusters)
        events += liq_events
        events += _ticks(world, spec, instruments, path, grid, cum)
    events.sort(key=event_time_ns)  # stable: ties keep the deterministic build order
    onsets = _Onsets(world)
    labels = [
        _label_of(world, c, onsets.onset_s(c))
        for c in world.clusters
        if c.label is not None and c.times_s.size and c.times_s[0] < world.duration_s
    ]
    labels.sort(key=lambda lab: (lab.onset_ns, lab.scope))
    return events, labels


def calm_background(
    world: World, index: int, spec: AssetSpec, stream: int = _S_CALM
) -> tuple[F64, F64]:
    """Return the calm liquidations of one asset: (times in s, notionals in USD)."""
    marks = Marks(spec.mark_median_usd, CALM_SIGMA)
    rng = world.rng(stream, index)
    immigrants_per_s = spec.calm_usd_per_h / 3600.0 / marks.mean_usd * (1.0 - CALM_BRANCHING)
    roots = poisson_times(rng, immigrants_per_s, world.duration_s)
    return descendants(rng, roots, CALM_BRANCHING, marks, CALM_KERNEL)


def _price_path(
    world: World, index: int, spec: AssetSpec, grid: F64, clusters: list[Cluster]
) -> _AssetPath:
    rng = world.rng(_S_NOISE, index)
    sd_step = spec.daily_vol * math.sqrt(world.tick_s / DAY_S)
    walk = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sd_step, grid.size - 1))])
    log_price = math.log(spec.price) + walk
    anchors = world.anchors.get(spec.asset)
    if anchors:
        at = np.array([t for t, _ in anchors], dtype=np.float64)
        rel = np.log(np.array([r for _, r in anchors], dtype=np.float64))
        log_price -= np.interp(grid, at, np.interp(at, grid, walk))  # a bridge: 0 at anchors
        log_price += np.interp(grid, at, rel)
    spread = np.ones(grid.size)
    for c in clusters:
        if c.usd.size == 0:
            continue
        if c.drop > 0:
            log_price += math.log(1.0 - c.drop) * _cum_share(c.times_s, c.usd, grid)
        if c.spread_mult > 1.0:
            spread += (c.spread_mult - 1.0) * _bump(c, grid)
    return _AssetPath(log_price, spread)


def _cum_share(times: F64, usd: F64, grid: F64) -> F64:
    """Return the share of `usd` that arrived by each grid time, 0..1."""
    cum = np.concatenate([[0.0], np.cumsum(usd)])
    share: F64 = cum[np.searchsorted(times, grid, side="right")] / cum[-1]
    return share


def _bump(c: Cluster, grid: F64) -> F64:
    """Return a 0..1 envelope: linear rise from onset − lead to the peak, then decay."""
    peak_s, end_s = _peak_end_s(c)
    start = c.onset_s - BUMP_LEAD_S
    rise = np.clip((grid - start) / max(peak_s - start, 1.0), 0.0, 1.0)
    decay = np.exp(-np.clip(grid - peak_s, 0.0, None) / max((end_s - peak_s) / 2.0, 60.0))
    return np.where(grid <= peak_s, rise, decay)


def _peak_end_s(c: Cluster) -> tuple[float, float]:
    """Return (start of the peak minute, end) of a cluster, seconds after the world start.

    Minutes here are relative to the world start; `_label_of` uses UTC minutes.
    """
    minutes = np.floor(c.times_s / 60.0).astype(np.int64)
    first = int(minutes[0])
    sums = np.bincount(minutes - first, weights=c.usd)
    peak = (first + int(np.argmax(sums))) * 60.0
    cum = np.cumsum(c.usd)
    end = float(c.times_s[int(np.searchsorted(cum, END_SHARE * cum[-1]))])
    return peak, max(math.ceil(end / 60.0) * 60.0, peak + 60.0)


class _Onsets:
    """Observable onsets of labelled clusters (DETECTION.md §2.9's labelling rule).

    A cluster's onset is the start of the first UTC minute, from the minute its exogenous
    ramp starts, in which the asset's liquidations (calm background plus every cluster of
    the asset) exceed the asset's 1-in-1-day calm level: the (1 − 1/1440) quantile of
    per-minute USD over `ONSET_REF_DAYS` days of its simulated calm background (its own
    random stream). The ramp start itself is unobservable: the immigrant density is 0
    there, so a first minute holds ~1 % of the ramp.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._minutes: dict[str, tuple[int, F64, float]] = {}

    def _of(self, asset: str) -> tuple[int, F64, float]:
        if asset not in self._minutes:
            world = self.world
            index = next(i for i, s in enumerate(world.assets) if s.asset == asset)
            spec = world.assets[index]
            ref = World(
                world.name, world.seed, 0, ONSET_REF_DAYS * DAY_S, world.tick_s,
                world.assets, world.classes,
            )  # fmt: skip
            rt, rm = calm_background(ref, index, spec, _S_REF)
            ref_min = np.bincount(
                (rt // 60).astype(np.int64), weights=rm, minlength=ONSET_REF_DAYS * 1440
            )
            level = float(np.quantile(ref_min, 1.0 - 1.0 / 1440.0))
            parts_t, parts_m = [], []
            if world.calm:
                t, m = calm_background(world, index, spec)
                parts_t.append(t)
                parts_m.append(m)
            for c in world.clusters:
                if c.asset == asset:
                    parts_t.append(c.times_s)
                    parts_m.append(c.usd)
            t, m = np.concatenate(parts_t), np.concatenate(parts_m)
            keep = (t >= 0.0) & (t < world.duration_s)
            start_s = world.start_ns // NS
            minutes = (start_s + np.floor(t[keep]).astype(np.int64)) // 60
            first = int(minutes.min()) if minutes.size else start_s // 60
            sums = np.bincount(minutes - first, weights=m[keep]).astype(np.float64)
            self._minutes[asset] = (first, sums, level)
        return self._minutes[asset]

    def onset_s(self, c: Cluster) -> float:
        """Return the cluster's observable onset, seconds after the world start."""
        first, sums, level = self._of(c.asset)
        start_s = self.world.start_ns // NS
        from_min = (start_s + math.floor(c.onset_s)) // 60 - first
        over = np.flatnonzero(sums[max(from_min, 0) :] > level)
        if over.size == 0:
            return c.onset_s
        return float((first + max(from_min, 0) + int(over[0])) * 60 - start_s)


def _label_of(world: World, c: Cluster, onset_s: float) -> Label:
    inside = c.times_s < world.duration_s
    times, usd = c.times_s[inside], c.usd[inside]
    start_s = world.start_ns // NS
    minutes = (start_s + np.floor(times).astype(np.int64)) // 60
    first = int(minutes[0])
    sums = np.bincount(minutes - first, weights=usd)
    peak_ns = (first + int(np.argmax(sums))) * 60 * NS
    cum = np.cumsum(usd)
    end_s = start_s + float(times[int(np.searchsorted(cum, END_SHARE * cum[-1]))])
    end_ns = max(math.ceil(end_s / 60.0) * 60 * NS, peak_ns + 60 * NS)
    return Label(
        name=c.label or c.asset,
        scope=c.asset,
        onset_ns=min(world.start_ns + round(onset_s * NS), peak_ns),
        peak_ns=peak_ns,
        end_ns=end_ns,
    )


def _liquidations(
    world: World,
    index: int,
    spec: AssetSpec,
    instruments: list[Instrument],
    path: _AssetPath,
    clusters: list[Cluster],
) -> tuple[list[Event], F64]:
    """Return an asset's liquidations and each instrument's cumulative USD on the grid."""
    parts_t, parts_m, parts_long = [], [], []
    grid_n = path.log_price.size
    if world.calm:
        t, m = calm_background(world, index, spec)
        idx = np.minimum((t / world.tick_s).astype(np.int64), grid_n - 1)
        back = np.maximum(idx - max(1, round(300.0 / world.tick_s)), 0)
        ret_5m = path.log_price[idx] - path.log_price[back]
        p_long = np.clip(0.5 - 60.0 * ret_5m, 0.1, 0.9)
        parts_t.append(t)
        parts_m.append(m)
        parts_long.append(world.rng(_S_SIDES, 1000 + index).random(t.size) < p_long)
    for k, c in enumerate(world.clusters):
        if c.asset != spec.asset:
            continue
        parts_t.append(c.times_s)
        parts_m.append(c.usd)
        parts_long.append(world.rng(_S_SIDES, k).random(c.times_s.size) < c.long_share)
    if not parts_t:
        return [], np.zeros((len(instruments), grid_n))
    times = np.concatenate(parts_t)
    usd = np.concatenate(parts_m)
    is_long = np.concatenate(parts_long)
    order = np.argsort(times, kind="stable")
    keep = order[(times[order] >= 0.0) & (times[order] < world.duration_s)]
    times, usd, is_long = times[keep], usd[keep], is_long[keep]
    rng = world.rng(_S_ROUTE, index)
    shares = np.array([i.share for i in instruments])
    venue = rng.choice(len(instruments), size=times.size, p=shares / shares.sum())
    latency_ns = rng.integers(20_000_000, 150_000_000, size=times.size)
    idx = np.minimum((times / world.tick_s).astype(np.int64), grid_n - 1)
    basis = np.array([VENUE_BASIS_BPS[i.exchange] * 1e-4 for i in instruments])
    fill = np.exp(path.log_price[idx] + basis[venue]) * np.where(
        is_long, 1.0 - SLIPPAGE, 1.0 + SLIPPAGE
    )
    grid = np.arange(grid_n, dtype=np.float64) * world.tick_s
    cum = np.zeros((len(instruments), grid_n))
    for j in range(len(instruments)):
        sel = venue == j
        cum[j] = _cum_usd(times[sel], usd[sel], grid)
    out: list[Event] = []
    seq0 = index * 10_000_000
    for n, (t, m, lg, v, lat, px) in enumerate(
        zip(
            times.tolist(),
            usd.tolist(),
            is_long.tolist(),
            venue.tolist(),
            latency_ns.tolist(),
            fill.tolist(),
            strict=True,
        )
    ):
        inst = instruments[v]
        price = round(px, spec.decimals)
        ts = world.start_ns + round(t * NS)
        out.append(
            Liquidation(
                exchange=inst.exchange,
                symbol=inst.symbol,
                venue_symbol=inst.venue_symbol,
                asset=inst.asset,
                asset_class=inst.asset_class,
                position_side="long" if lg else "short",
                price=price,
                qty=round(m / price, 6),
                notional_usd=round(m, 2),
                ts_event_ns=ts,
                ts_recv_ns=ts + lat,
                event_id="sim-%s-%d-%d" % (world.name, world.seed, seq0 + n),
            )
        )
    return out, cum


def _cum_usd(times: F64, usd: F64, grid: F64) -> F64:
    cum = np.concatenate([[0.0], np.cumsum(usd)])
    return cum[np.searchsorted(times, grid, side="right")]


def _ticks(
    world: World,
    spec: AssetSpec,
    instruments: list[Instrument],
    path: _AssetPath,
    grid: F64,
    cum: npt.NDArray[np.float64],
) -> list[Event]:
    out: list[Event] = []
    half = np.exp(path.log_price) * spec.spread_bps * 1e-4 * path.spread_mult / 2.0
    step = 10.0**-spec.decimals
    grid_ns = (world.start_ns + np.round(grid * NS)).astype(np.int64)
    for j, inst in enumerate(instruments):
        mid = np.exp(path.log_price + VENUE_BASIS_BPS[inst.exchange] * 1e-4)
        oi0 = spec.oi_usd * inst.share
        oi = np.maximum(oi0 - cum[j], 0.2 * oi0)
        offset = VENUE_TICK_OFFSET_MS[inst.exchange] * 1_000_000
        for ts, px, h, o in zip(
            grid_ns.tolist(), mid.tolist(), half.tolist(), oi.tolist(), strict=True
        ):
            price = round(px, spec.decimals)
            bid = ask = None
            if inst.has_book:
                bid = round(px - h, spec.decimals)
                ask = round(max(px + h, bid + step), spec.decimals)
            out.append(
                Tick(
                    exchange=inst.exchange,
                    symbol=inst.symbol,
                    venue_symbol=inst.venue_symbol,
                    asset=inst.asset,
                    asset_class=inst.asset_class,
                    price=price,
                    bid=bid,
                    ask=ask,
                    open_interest_usd=round(o),
                    ts_event_ns=ts + offset,
                    ts_recv_ns=ts + offset + 40_000_000,
                )
            )
    return out


def specs_of(assets: list[str]) -> list[AssetSpec]:
    """Return the `AssetSpec` of each asset code, in the table's order.

    Raises:
        ValueError: naming an unknown asset.
    """
    unknown = sorted(set(assets) - ASSETS.keys())
    if unknown:
        raise ValueError("unknown asset %s (known: %s)" % (", ".join(unknown), ", ".join(ASSETS)))
    return [s for a, s in ASSETS.items() if a in assets]
