"""Rendering a scenario (`World`) into contract events and ground-truth labels.

A `World` (`monitor.simulate.model`) says what happens: which assets trade, the calm
background, price anchors (the scenario's intended path), liquidation clusters (cascades)
with the price fall each one drives, spread widening, margin changes. `render` turns it
into `Tick`, `Liquidation` and `MarginChange` events sorted by event time, and one `Label`
per labelled cluster (`monitor.simulate.labelling`).

Determinism: every random stream is a `numpy.random.Generator` seeded from
``(seed, stream, index)``, so a component draws the same numbers whatever else the
scenario contains (the calm background of ``hawkes`` is the ``calm`` scenario's, for the
same seed and span), and the output is identical byte for byte for identical arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.evaluation.labels import Label
from monitor.events import NS, Event, Liquidation, Tick, event_time_ns
from monitor.simulate.hawkes import F64
from monitor.simulate.labelling import END_SHARE, Onsets, label_of
from monitor.simulate.market import (
    ASSETS,
    VENUE_BASIS_BPS,
    VENUE_TICK_OFFSET_MS,
    AssetSpec,
    Instrument,
    instruments_of,
)
from monitor.simulate.model import (
    BUMP_LEAD_S,
    DAY_S,
    S_NOISE,
    S_ROUTE,
    S_SIDES,
    SLIPPAGE,
    Cluster,
    World,
    calm_background,
)


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
    onsets = Onsets(world)
    labels = [
        label_of(world, c, onsets.onset_s(c))
        for c in world.clusters
        if c.label is not None and c.times_s.size and c.times_s[0] < world.duration_s
    ]
    labels.sort(key=lambda lab: (lab.onset_ns, lab.scope))
    return events, labels


def _price_path(
    world: World, index: int, spec: AssetSpec, grid: F64, clusters: list[Cluster]
) -> _AssetPath:
    rng = world.rng(S_NOISE, index)
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
        parts_long.append(world.rng(S_SIDES, 1000 + index).random(t.size) < p_long)
    for k, c in enumerate(world.clusters):
        if c.asset != spec.asset:
            continue
        parts_t.append(c.times_s)
        parts_m.append(c.usd)
        parts_long.append(world.rng(S_SIDES, k).random(c.times_s.size) < c.long_share)
    if not parts_t:
        return [], np.zeros((len(instruments), grid_n))
    times = np.concatenate(parts_t)
    usd = np.concatenate(parts_m)
    is_long = np.concatenate(parts_long)
    order = np.argsort(times, kind="stable")
    keep = order[(times[order] >= 0.0) & (times[order] < world.duration_s)]
    times, usd, is_long = times[keep], usd[keep], is_long[keep]
    rng = world.rng(S_ROUTE, index)
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
