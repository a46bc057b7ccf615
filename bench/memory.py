"""Memory of the aggregate engine over a long simulated day (benchmark (f)).

The engine as ``liqmon run`` and ``liqmon aggregate`` hold it: the real `Engine` with the
default settings (windows 10 s … 1 h) and its `Metrics`, fed in event time as fast as it
goes. SYMBOLS instruments (one asset each, spread over the venues, popularity Zipf-skewed
as real liquidation flow is) receive RATE events per simulated second, a TICK_SHARE of them
price ticks, for HOURS simulated hours. Batches hold about 16k events (the replay's batch).
Every batch passes the live publisher's gate first (`monitor.bounds.bounded` with the
daemon's `Bounds` and `SourceHealth.rejected`), and a HOSTILE_SHARE of the events are
made out of bounds as a venue might send them (year-2100 times, $1.7e308 notionals,
infinite prices): they must be counted and kept out, the windows stay finite and the
watermark at the simulated present. Every simulated hour the process's resident set size
(``VmRSS`` of /proc/self/status) is sampled; the report gives the maximum, and the growth
over the last half of the run.

The full benchmark is 24 h at 10,000 events/s (864 M events: an hour or more of CPU);
``--hours`` and ``--rate`` shorten it, and the JSON states what was run.

Usage: python bench/memory.py [--hours 24] [--rate 10000] [--symbols 3000]
                              [--hostile-share 0.001] [--out bench/results/memory.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from monitor import config  # noqa: E402
from monitor.aggregate.engine import Engine  # noqa: E402
from monitor.bounds import REASONS, Bounds, bounded  # noqa: E402
from monitor.events import EXCHANGES, Event, Liquidation, Tick  # noqa: E402
from monitor.observability.metrics import Metrics  # noqa: E402
from monitor.observability.source_metrics import SourceMetrics  # noqa: E402
from monitor.sources.health import SourceHealth  # noqa: E402

T0_S = 1_767_225_600
YEAR_2100_NS = 4_102_444_800 * 1_000_000_000
NS = 1_000_000_000
BATCH_EVENTS = 16_384
TARGET_MIB = 400.0


def rss_mib() -> float:
    """Return this process's resident set size in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Day:
    """Builds the simulated events, one span of seconds at a time (seeded, repeatable)."""

    def __init__(self, symbols: int, rate: int, tick_share: float, hostile: float) -> None:
        self.rng = np.random.default_rng(7)
        self.hostile_rng = np.random.default_rng(11)  # apart: the day itself is unchanged
        self.rate = rate
        self.tick_share = tick_share
        self.hostile = hostile
        self.injected = 0  # events made out of bounds
        weights = 1.0 / np.arange(1, symbols + 1) ** 1.1
        self.p = weights / weights.sum()
        venues = EXCHANGES[:11]  # every venue with a liquidation stream
        self.inst = [
            (venues[i % len(venues)], "S%d-USDT-PERP" % i, "S%dUSDT" % i, "S%d" % i)
            for i in range(symbols)
        ]
        self.price = 10.0 * (1 + self.rng.random(symbols))

    def span(self, first_s: int, seconds: int) -> list[Event]:
        """Return the events of `seconds` simulated seconds from `first_s`, in time order."""
        n = self.rate * seconds
        idx = self.rng.choice(len(self.inst), size=n, p=self.p)
        offsets = np.sort(self.rng.integers(0, seconds * NS, size=n))
        is_tick = self.rng.random(n) < self.tick_share
        qty = self.rng.lognormal(3.0, 1.5, size=n)
        bad = (self.hostile_rng.random(n) < self.hostile) * self.hostile_rng.integers(1, 4, n)
        base = (T0_S + first_s) * NS
        out: list[Event] = []
        for k, (i, off, tick, q, how) in enumerate(
            zip(idx.tolist(), offsets.tolist(), is_tick.tolist(), qty.tolist(), bad.tolist(),
                strict=True)
        ):  # fmt: skip
            venue, symbol, vsym, asset = self.inst[i]
            ts = recv = base + off
            price = float(self.price[i])
            notional = q * price
            oi = None
            self.injected += how > 0
            if how == 1:  # the three ways a venue's frame leaves the bounds
                ts = YEAR_2100_NS
            elif how == 2:
                notional = oi = 1.7e308
            elif how == 3:
                price = math.inf
            if tick:
                out.append(Tick(exchange=venue, symbol=symbol, venue_symbol=vsym, asset=asset,
                                asset_class="crypto", price=price, open_interest_usd=oi,
                                ts_event_ns=ts, ts_recv_ns=recv))  # fmt: skip
            else:
                out.append(Liquidation(exchange=venue, symbol=symbol, venue_symbol=vsym,
                                       asset=asset, asset_class="crypto",
                                       position_side="long" if k % 2 else "short",
                                       price=price, qty=q, notional_usd=notional,
                                       ts_event_ns=ts, ts_recv_ns=recv,
                                       event_id="m%d-%d" % (first_s, k)))  # fmt: skip
        return out


def run(
    hours: float, rate: int, symbols: int, tick_share: float, hostile: float
) -> dict[str, object]:
    """Feed the day; return the hourly RSS samples and the figures."""
    return asyncio.run(_run(hours, rate, symbols, tick_share, hostile))


async def _run(
    hours: float, rate: int, symbols: int, tick_share: float, hostile: float
) -> dict[str, object]:
    settings = config.load(None, env={})
    registry = CollectorRegistry()
    metrics = Metrics(registry, settings.assets.watch, settings.aggregate.windows_s)
    health = SourceHealth(SourceMetrics(registry))
    engine = Engine(settings, metrics)

    async def take(batch: Sequence[Event]) -> int:  # the bus and the aggregator, in line
        engine.process(batch)
        metrics.observe_batch(batch, 0.0)
        return len(batch)

    # the live publisher's gate (monitor.runtime.core.gate): out-of-bounds events are counted
    publish = bounded(take, Bounds(settings.sources.max_clock_skew_s), health.rejected)
    day = Day(symbols, rate, tick_share, hostile)
    span_s = max(1, BATCH_EVENTS // rate)
    total_s = int(hours * 3600)
    samples: list[dict[str, float]] = [{"hour": 0.0, "rss_mib": rss_mib()}]
    started = time.perf_counter()
    cpu_started = time.process_time()
    events = 0
    next_sample = 3600
    for first in range(0, total_s, span_s):
        batch = day.span(first, min(span_s, total_s - first))
        await publish(batch)
        events += len(batch)
        if first + span_s >= next_sample:
            samples.append({"hour": next_sample / 3600, "rss_mib": rss_mib()})
            print("hour %5.1f rss %7.1f MiB" % (next_sample / 3600, samples[-1]["rss_mib"]))
            next_sample += 3600
    engine.flush()
    wall = time.perf_counter() - started
    half = [s["rss_mib"] for s in samples if s["hour"] >= hours / 2]
    rejected = {
        reason: sum(
            health.metrics.rejected.labels(exchange, reason)._value.get()
            for exchange in (*EXCHANGES, "other")
        )
        for reason in REASONS
    }
    return {
        "hours": hours,
        "rate_per_s": rate,
        "symbols": symbols,
        "tick_share": tick_share,
        "windows_s": list(settings.aggregate.windows_s),
        "events": events,
        "hostile_share": hostile,
        "hostile_injected": day.injected,
        "rejected": rejected,
        "windows_finite": bool(np.isfinite(engine.liq.sums).all()),
        "watermark_behind_s": T0_S + total_s - (engine.max_ts_ns or 0) / NS,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu_started,
        "events_per_s_processed": events / wall,
        "samples": samples,
        "max_rss_mib": max(s["rss_mib"] for s in samples),
        "growth_last_half_mib": (half[-1] - half[0]) if len(half) > 1 else 0.0,
        "target_mib": TARGET_MIB,
    }


def command_line() -> str:
    """Return how this benchmark was started, relative to the repository (for the report)."""
    return " ".join([".venv/bin/python", "bench/%s.py" % Path(__file__).stem, *sys.argv[1:]])


def main() -> None:
    """Parse arguments, run the day, print and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=int, default=10_000, help="events per simulated second")
    parser.add_argument("--symbols", type=int, default=3_000)
    parser.add_argument("--tick-share", type=float, default=0.3)
    parser.add_argument(
        "--hostile-share", type=float, default=0.001, help="events made out of bounds"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.json")
    args = parser.parse_args()
    result: dict[str, object] = run(
        args.hours, args.rate, args.symbols, args.tick_share, args.hostile_share
    )
    result["command"] = command_line()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
