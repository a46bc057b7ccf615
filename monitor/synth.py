"""Deterministic synthetic liquidations: a calm background with optional bursts.

Used by tests, the replay benchmark and demos. Same seed, same events, byte for byte.
The fuller scenario simulator (Hawkes cascades, the February 2026 margin-hike cascade)
builds on this.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from monitor.events import NS, Liquidation, Side

ASSETS: Final[tuple[tuple[str, float], ...]] = (
    ("BTC", 95_000.0), ("ETH", 3_300.0), ("SOL", 180.0), ("XRP", 2.4), ("DOGE", 0.3),
    ("AVAX", 30.0), ("LINK", 20.0), ("NEAR", 4.0),
)  # fmt: skip
VENUES: Final[tuple[str, ...]] = ("binance_usdm", "bybit", "okx")


@dataclass(frozen=True, slots=True)
class Burst:
    """A one-sided burst on one asset: `rate_per_s` extra events for `duration_s`."""

    asset: str
    start_s: float  # seconds after the stream start
    duration_s: float
    rate_per_s: float
    median_usd: float = 50_000.0
    long_share: float = 0.9


def liquidations(
    *,
    start_ns: int,
    duration_s: float,
    rate_per_s: float,
    seed: int = 0,
    bursts: tuple[Burst, ...] = (),
    median_usd: float = 5_000.0,
) -> Iterator[Liquidation]:
    """Yield liquidations in time order: Poisson background plus `bursts`.

    Args:
        start_ns: epoch ns of the first possible event.
        duration_s: length of the stream, in seconds.
        rate_per_s: background events per second over all assets and venues.
        seed: the random seed.
        bursts: extra one-sided bursts.
        median_usd: median notional of a background event (log-normal, sigma 1.2).
    """
    rng = random.Random(seed)
    streams = [_background(rng, rate_per_s, duration_s, median_usd)]
    streams += [_burst(random.Random(seed * 7919 + i), b) for i, b in enumerate(bursts)]
    merged = sorted((t for s in streams for t in s), key=lambda x: x[0])
    prices = dict(ASSETS)
    for seq, (t_s, asset, side, usd, venue) in enumerate(merged):
        price = prices[asset]
        ts = start_ns + int(t_s * NS)
        yield Liquidation(
            exchange=venue,
            symbol="%s-USDT-PERP" % asset,
            venue_symbol="%sUSDT" % asset,
            asset=asset,
            asset_class="crypto",
            position_side=side,
            price=price,
            qty=round(usd / price, 6),
            notional_usd=round(usd, 2),
            ts_event_ns=ts,
            ts_recv_ns=ts + 50_000_000,
            event_id="synth-%d-%d" % (seed, seq),
        )


Draw = tuple[float, str, Side, float, str]


def _background(rng: random.Random, rate: float, duration_s: float, median: float) -> list[Draw]:
    out: list[Draw] = []
    t = rng.expovariate(rate) if rate > 0 else math.inf
    names = [a for a, _ in ASSETS]
    weights = [8, 5, 3, 2, 2, 1, 1, 1]
    while t < duration_s:
        asset = rng.choices(names, weights)[0]
        side: Side = "long" if rng.random() < 0.5 else "short"
        usd = median * math.exp(rng.gauss(0.0, 1.2))
        out.append((t, asset, side, usd, rng.choice(VENUES)))
        t += rng.expovariate(rate)
    return out


def _burst(rng: random.Random, b: Burst) -> list[Draw]:
    out: list[Draw] = []
    t = b.start_s + rng.expovariate(b.rate_per_s)
    while t < b.start_s + b.duration_s:
        side: Side = "long" if rng.random() < b.long_share else "short"
        usd = b.median_usd * math.exp(rng.gauss(0.0, 1.0))
        out.append((t, b.asset, side, usd, rng.choice(VENUES)))
        t += rng.expovariate(b.rate_per_s)
    return out
