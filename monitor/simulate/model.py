"""What a scenario is made of: the `World`, its liquidation `Cluster`s, the calm background.

`monitor.simulate.world` renders a `World` into events; `monitor.simulate.labelling` finds
the observable onsets of its labelled clusters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from monitor.events import AssetClass, MarginChange
from monitor.simulate.hawkes import F64, Kernel, Marks, descendants, poisson_times
from monitor.simulate.market import AssetSpec

DAY_S: Final = 86_400.0
CALM_BRANCHING: Final = 0.3
CALM_KERNEL: Final = Kernel(fast_s=10.0, slow_s=120.0, fast_weight=0.6)
CALM_SIGMA: Final = 1.3
SLIPPAGE: Final = 0.0008  # a liquidation fills this far through the mark, fraction
BUMP_LEAD_S: Final = 120.0  # spreads start widening this long before a cluster's onset

# random-stream ids (the second element of each generator's seed)
S_NOISE, S_CALM, S_ROUTE, S_SIDES, S_REF = 1, 2, 3, 4, 5


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


def calm_background(
    world: World, index: int, spec: AssetSpec, stream: int = S_CALM
) -> tuple[F64, F64]:
    """Return the calm liquidations of one asset: (times in s, notionals in USD)."""
    marks = Marks(spec.mark_median_usd, CALM_SIGMA)
    rng = world.rng(stream, index)
    immigrants_per_s = spec.calm_usd_per_h / 3600.0 / marks.mean_usd * (1.0 - CALM_BRANCHING)
    roots = poisson_times(rng, immigrants_per_s, world.duration_s)
    return descendants(rng, roots, CALM_BRANCHING, marks, CALM_KERNEL)
