"""Warm start: seed every instrument's price windows and volatility from past prices.

A daemon restarted without state, or a replay that starts minutes before a crash, would
otherwise judge the first moves against the volatility prior (``detect.crash``'s
``prior_sd_1m`` until ``warmup_min`` minutes are folded in). Past 1-minute klines (files
``liqmon evaluate`` reads, or the venues' public REST klines cached under the state
directory) are folded in through the engine's own per-second price update, exactly as if
the ticks had been replayed, but without detection: no alert, no liquidation baseline.
Called once, before the first event is consumed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from monitor.aggregate.windows.prices import PriceWindows
from monitor.events import NS, AssetClass, Tick
from monitor.io.klines import read_klines

logger = logging.getLogger(__name__)


def seed_prices(prices: PriceWindows, ticks: Iterable[Tick]) -> dict[str, int]:
    """Fold `ticks` (time order per instrument) in; return minutes seeded per instrument.

    Ticks older than an instrument's newest second are skipped (already seen).
    """
    before = {k: p.minutes for k, p in prices.instruments.items()}
    for t in ticks:
        inst = prices.get("%s:%s" % (t.exchange, t.symbol), t.asset, t.asset_class)
        second = t.ts_event_ns // NS
        if second < inst.second:
            continue
        high = max(t.price, inst.last) if second == inst.second else t.price
        inst.update(second, high, t.price, frozen=False)
    return {k: p.minutes - before.get(k, 0) for k, p in prices.instruments.items()}


def seed_from_files(
    prices: PriceWindows, paths: Sequence[Path], classes: Mapping[str, AssetClass]
) -> dict[str, int]:
    """Seed from kline files (the CSV formats ``liqmon evaluate`` reads), in the order given.

    Raises:
        InputError: a file cannot be read or has a bad row (one line naming it).
    """
    seeded: dict[str, int] = {}
    for path in paths:
        for key, n in seed_prices(prices, read_klines(path, classes=classes)).items():
            seeded[key] = seeded.get(key, 0) + n
    if seeded:
        logger.info(
            "warm start: %s",
            ", ".join("%s %d min" % (k, n) for k, n in sorted(seeded.items())),
        )
    return seeded
