"""``/metrics`` scrape time with every label set populated (benchmark (e)).

A child process builds the daemon's registry as ``liqmon run`` does (`Metrics` for the
configured watch list and windows, `SourceMetrics` with every stream of every venue
registered), gives every series a value (histograms observed, counters incremented; the
engine-state gauges read, at each scrape, an `Engine` fed an hour of liquidations with a
burst and a tick a minute on INSTRUMENTS instruments), and serves it with the daemon's `HttpServer`
(aiohttp) on 127.0.0.1. This process then GETs ``/metrics`` SCRAPES times in sequence over
HTTP (one kept-alive connection, as Prometheus holds per target) and reports the
wall time per scrape, p50/p99/max, the body size and the number of series.

Label sets are closed (scopes are the watched assets, the asset classes, ``market``
and ``other``), so the number of symbols traded does not change the catalogue; the watch
list does. ``--watch N`` adds N synthetic watched assets to the default list, for a daemon
that watches many.

Usage: python bench/scrape.py [--scrapes 200] [--watch 0] [--instruments 600]
                              [--out bench/results/scrape.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from monitor import config  # noqa: E402
from monitor.aggregate.engine import Engine  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.events import ALERT_KINDS, EXCHANGES, NS, SIDES, Event, Tick  # noqa: E402
from monitor.observability.http import HttpServer, HttpState, Readiness  # noqa: E402
from monitor.observability.metrics import Metrics  # noqa: E402
from monitor.observability.source_metrics import SourceMetrics  # noqa: E402
from monitor.sources import SOURCES  # noqa: E402
from monitor.sources.manager import select_venues  # noqa: E402
from monitor.synth import Burst, liquidations  # noqa: E402

TARGET_S = 0.050
T0_S = 1_767_274_200  # 2026-01-01 13:30 UTC, a Thursday
HOUR_S = 3600


def fed_engine(settings: Settings, metrics: Metrics, instruments: int) -> Engine:
    """Return an engine on `metrics` fed an hour of liquidations (a BTC burst) and prices.

    A tick a minute on `instruments` instruments: the watched assets on three venues, then
    unwatched ones.
    """
    engine = Engine(settings, metrics)
    classes = settings.assets.classes
    names = [(v, a) for a in settings.assets.watch for v in ("binance_usdm", "bybit", "okx")]
    names += [("bybit", "U%d" % i) for i in range(max(instruments - len(names), 0))]
    ticks = [
        Tick(
            exchange=venue,
            symbol="%s-USDT-PERP" % asset,
            venue_symbol="%sUSDT" % asset,
            asset=asset,
            asset_class=classes.get(asset, "crypto"),
            price=100.0 * (1.0 - 0.0001 * (minute % 30)),
            open_interest_usd=1e7,
            ts_event_ns=(T0_S + 60 * minute) * NS,
            ts_recv_ns=(T0_S + 60 * minute) * NS,
        )
        for minute in range(HOUR_S // 60)
        for venue, asset in names[:instruments]
    ]
    burst = (Burst("BTC", start_s=HOUR_S - 300, duration_s=120, rate_per_s=20.0),)
    liqs = liquidations(start_ns=T0_S * NS, duration_s=HOUR_S, rate_per_s=3.0, bursts=burst)
    events: list[Event] = sorted([*ticks, *liqs], key=lambda e: e.ts_event_ns)
    for i in range(0, len(events), 5000):
        engine.process(events[i : i + 5000])
    return engine


def populated_registry(extra_watch: int, instruments: int) -> CollectorRegistry:
    """Return a registry holding the daemon's whole catalogue, every series set."""
    settings = config.load(None, env={})
    watch = (*settings.assets.watch, *("SYN%d" % i for i in range(extra_watch)))
    registry = CollectorRegistry()
    metrics = Metrics(registry, watch, settings.aggregate.windows_s)
    sources = SourceMetrics(registry)
    for venue in select_venues(SOURCES, list(SOURCES)):
        for stream in venue.streams:
            sources.init_stream(venue.name, stream.name, stream.completeness)
            sources.messages.labels(venue.name, stream.name).inc(1_234_567)
            sources.lag.labels(venue.name).observe(0.12)
    fed_engine(settings, metrics, instruments)
    for exchange in EXCHANGES:
        for side in SIDES:
            metrics.add_liquidations(exchange, side, 10, 123_456.0)
    for kind in ALERT_KINDS:
        for scope in metrics.scopes:
            metrics.alert_active.labels(kind, scope).set(1)
    for i in range(1000):
        metrics.tick_seconds.observe(i / 10_000)
        metrics.ingest_to_alert.observe(i / 1_000)
    return registry


def serve(extra_watch: int, instruments: int, conn: Connection) -> None:
    """Child process: serve the populated registry until the parent closes `conn`."""

    async def main() -> None:
        registry = populated_registry(extra_watch, instruments)
        state = HttpState(registry, lambda: Readiness(True, {}), lambda: [])
        server = HttpServer(state, "127.0.0.1", 0)
        await server.start()
        conn.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv_bytes)
        await server.stop()

    with contextlib.suppress(EOFError):
        asyncio.run(main())


async def scrape(port: int, n: int) -> tuple[list[float], int, int]:
    """GET /metrics `n` times; return the seconds of each, the body bytes and series count."""
    times: list[float] = []
    body = b""
    url = "http://127.0.0.1:%d/metrics" % port
    async with aiohttp.ClientSession() as session:  # keep-alive, as Prometheus scrapes
        for _ in range(n):
            started = time.perf_counter()
            async with session.get(url) as response:
                body = await response.read()
            times.append(time.perf_counter() - started)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return times, len(body), series


def measure(scrapes: int, extra_watch: int, instruments: int) -> dict[str, object]:
    """Start the server process, scrape it, and return the figures."""
    parent, child = mp.Pipe()
    args = (extra_watch, instruments, child)
    proc = mp.get_context("spawn").Process(target=serve, args=args, daemon=True)
    proc.start()
    try:
        port = parent.recv()
        asyncio.run(scrape(port, 5))  # warm up
        times, size, series = asyncio.run(scrape(port, scrapes))
    finally:
        parent.close()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    ordered = sorted(times)
    return {
        "watch_extra": extra_watch,
        "instruments": instruments,
        "scrapes": scrapes,
        "series": series,
        "body_bytes": size,
        "p50_s": statistics.median(ordered),
        "p99_s": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max_s": ordered[-1],
        "target_s": TARGET_S,
    }


def command_line() -> str:
    """Return how this benchmark was started, relative to the repository (for the report)."""
    return " ".join([".venv/bin/python", "bench/%s.py" % Path(__file__).stem, *sys.argv[1:]])


def main() -> None:
    """Measure the default catalogue and, with --watch, a big watch list; write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--watch", type=int, default=0, help="extra watched assets")
    parser.add_argument("--instruments", type=int, default=600, help="instruments with prices")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scrape.json")
    args = parser.parse_args()
    default = measure(args.scrapes, 0, args.instruments)
    result: dict[str, object] = {"command": command_line(), "default": default}
    if args.watch:
        result["big_watch"] = measure(args.scrapes, args.watch, args.instruments)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
