"""Offered-rate stepping benchmark: feeder → ingest → Kafka → aggregate (run by hand).

Four processes on this machine: a fresh Apache Kafka broker (`bench.kafka_local`: the
tests' broker, jars from ``scripts/kafka-jars``); a local WebSocket feeder
(`bench.ws_feeder`, its own process) sending real-shaped liquidation frames at the offered
rate over ``--conns`` connections; this process running ``liqmon ingest`` (`run_kafka` with
``ingest`` only: the venue's normal adapter connected to the feeder → the bounded ingest
buffer → the publisher → `KafkaBus`); and a child process running ``liqmon aggregate``
(both stages, live) with `BucketStage.record_latency` on.

Sources: ``--source binance`` (default): Binance USDⓈ-M ``forceOrder`` frames, one event per
frame as Binance sends them, each connection subscribing ``!forceOrder@arr``; ``--source
bybit``: Bybit ``allLiquidation`` frames carrying ``--per-frame`` events each (Bybit pushes
arrays), the feeder's symbols split over the connections; ``--source synthetic``: no feeder
and no adapter, an in-process paced source publishes events (from `monitor.synth`, stamped
``ts_recv_ns`` = now) into the ingest buffer: the Kafka path alone. Several connections do
not add CPU (one ingest process); they spread the frames as a venue's streams would.

Latency is from ``ts_recv_ns`` (the adapter's receive time of the frame) to the event
folded into its partition's open 1-second bucket by stage 1 (`BucketStage.latency_s`),
which is what the window of that second holds once the second closes; p50/p99 per step.
Each rate runs STEP_S seconds. Per step: events the feeder sent, events the broker
acknowledged to ingest, events stage 1 processed, latency, and the CPU each process used
(µs of CPU per event processed: comparable across runs on a busy machine, where the rates
are not). Stepping stops at p99 > 250 ms or when stage 1 processed < 95 % of the offered rate.

Usage: python bench/kafka_e2e.py [--source binance|bybit|synthetic] [--conns N]
[--per-frame K] [--out FILE] [STEP_S] [RATES...]   (defaults binance, 4 connections, 20 events
a frame, 10 s; 5k 10k 20k 40k 60k 80k 100k). Prints a table and writes FILE (default
bench/results/kafka_e2e.json).
Profiles: BENCH_PROFILE=FILE (aggregate process), BENCH_PROFILE_INGEST=FILE (this one).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ws_feeder  # noqa: E402
from bench.kafka_local import (  # noqa: E402
    bench_kafka,
    broker_pid,
    cpu_s,
    kafka_version,
    local_broker,
)
from monitor import config  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.events import Event, Liquidation  # noqa: E402
from monitor.runtime.kafka.roles import KafkaHandle, run_kafka  # noqa: E402
from monitor.sources import binance_usdm, bybit  # noqa: E402
from monitor.sources.base import VenueSpec  # noqa: E402
from monitor.synth import liquidations  # noqa: E402

RATES = (5_000, 10_000, 20_000, 40_000, 60_000, 80_000, 100_000)
P99_LIMIT_S = 0.250
MIN_RATIO = 0.95
TICK_S = 0.005  # the synthetic source publishes every 5 ms
WARMUP_S = 4.0
SETTLE_S = 2.0  # between steps, at the warm-up rate: a backlog of a step clears
WARMUP_RATE = 1_000
RESULTS = ROOT / "bench" / "results" / "kafka_e2e.json"


def make_settings(
    bootstrap: str, prefix: str, endpoint: str = "", cache: str = "", venue: str = ""
) -> Settings:
    """Return the bench settings: production producer, no HTTP, the feeder as `venue`."""
    overrides: dict[str, Any] = {
        "bus.kind": "kafka",
        "bus.kafka": msgspec.to_builtins(bench_kafka(bootstrap, prefix)),
        "bus.queue_max_events": 500_000,
        "log.level": "warning",
    }
    if endpoint:
        overrides |= {
            "sources.endpoint_override": {venue: endpoint},
            "sources.cache_dir": cache,
            "sources.queue_max_events": 500_000,
            "sources.symbols": {venue: [s for s, _ in ws_feeder.SYMBOLS]},
            # no venue's REST here: the open-interest and session polls would only count
            # failures against the real hosts (no tradingSession stream on the feeder)
            "sources.open_interest_poll": False,
            "sessions.enabled": False,
        }
    return config.load(None, env={}, overrides=overrides)


def bench_venue(venue: str, conns: int) -> VenueSpec:
    """Return `venue`'s adapter with only its (linear) liquidation stream, on `conns` connections.

    Binance: each connection subscribes ``!forceOrder@arr``. Bybit: the feeder's symbols'
    ``allLiquidation`` topics, split over the connections. The feeder splits the rate over
    the connections. No catalogue URL: instruments come from the symbols' names (the
    adapter's fallback).
    """
    spec = binance_usdm.SPEC if venue == "binance" else bybit.SPEC
    stream = next(s for s in spec.streams if s.kind == "liquidations")
    if venue == "binance":
        topics = ["!forceOrder@arr"] * conns
    else:
        topics = ["allLiquidation.%s" % s for s, _ in ws_feeder.SYMBOLS]
    per_conn = -(-len(topics) // conns)
    stream = dataclasses.replace(stream, topics=lambda _: topics, max_topics_per_conn=per_conn)
    return dataclasses.replace(spec, streams=(stream,), instruments_urls=())


class SteppedSource:
    """Publishes pre-built liquidations at `rate` events/s (changed by the bench)."""

    def __init__(self, pool: list[Liquidation]) -> None:
        self.pool = pool
        self.rate = 0.0
        self.offered = 0
        self.skipped = 0
        self.stop = asyncio.Event()

    async def run(self, publish: Callable[[Sequence[Event]], Awaitable[int]]) -> None:
        """Publish on a fixed 5-ms grid: what is due since the start of the rate.

        Event times are the publish time (the pool gives venue, asset, side and size).
        """
        pool, n = self.pool, len(self.pool)
        i = 0
        due = 0.0
        last = time.perf_counter()
        replace = msgspec.structs.replace
        while not self.stop.is_set():
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            due += self.rate * (now - last)
            last = now
            k = int(due)
            if k <= 0:
                continue
            due -= k
            ts = time.time_ns()
            batch = [
                replace(pool[(i + j) % n], ts_recv_ns=ts, ts_event_ns=ts - 50_000_000)
                for j in range(k)
            ]
            i += k
            self.offered += k
            await publish(batch)


class Feed:
    """The offered load, either source: set `rate`, read `offered` (frames or events sent)."""

    def __init__(self, synthetic: SteppedSource | None, shared: tuple[Any, Any, Any]) -> None:
        self.synthetic = synthetic
        self._rate, self._sent, self._skipped = shared

    def set_rate(self, rate: float) -> None:
        """Offer `rate` events per second from now on."""
        if self.synthetic is not None:
            self.synthetic.rate = rate
        else:
            self._rate.value = float(rate)

    def offered(self) -> int:
        """Return the frames (events) sent so far."""
        if self.synthetic is not None:
            return self.synthetic.offered
        return int(self._sent.value)

    def skipped(self) -> int:
        """Return the frames the feeder held back (a connection's backlog was full)."""
        return 0 if self.synthetic is not None else int(self._skipped.value)


def aggregator(bootstrap: str, prefix: str, conn: Connection) -> None:
    """Child process: ``liqmon aggregate``; answers "start"/"stop" with stage-1 numbers."""
    if os.environ.get("BENCH_PROFILE"):  # cProfile of the aggregate process, to that file
        cProfile.runctx(
            "asyncio.run(_aggregate(make_settings(bootstrap, prefix), conn))",
            globals(),
            locals(),
            os.environ["BENCH_PROFILE"],
        )
        return
    asyncio.run(_aggregate(make_settings(bootstrap, prefix), conn))


async def _aggregate(settings: Settings, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    async with run_kafka(
        settings,
        ingest=False,
        group="bench-%s" % uuid.uuid4().hex[:6],
        live=True,
        serve_http=False,
        log_alerts=False,
    ) as app:
        bucket = app.bucket
        if bucket is None:
            msg = "no bucket stage"
            raise RuntimeError(msg)
        conn.send("ready")
        started = time.perf_counter()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "start":
                bucket.latency_s = []
                bucket.record_latency = True
                started = time.perf_counter()
            elif command == "stop":
                samples = bucket.latency_s
                bucket.latency_s = []
                elapsed = time.perf_counter() - started
                conn.send(_stats(samples, elapsed))
            else:
                return


def _stats(samples: list[float], elapsed: float) -> dict[str, float]:
    if len(samples) < 2:
        return {"processed": len(samples), "rate": len(samples) / elapsed, "p50": 0, "p99": 0}
    q = statistics.quantiles(samples, n=100)
    return {
        "processed": len(samples),
        "rate": len(samples) / elapsed,
        "p50": q[49],
        "p99": q[98],
        "max": max(samples),
    }


@asynccontextmanager
async def feeder_process(
    venue: str, per_frame: int
) -> AsyncIterator[tuple[str, tuple[Any, Any, Any], int]]:
    """Start `bench.ws_feeder` in a child process; yield its URL, shared counters, pid."""
    ctx = mp.get_context("spawn")
    shared = (ctx.Value("d", 0.0), ctx.Value("q", 0), ctx.Value("q", 0))
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=ws_feeder.serve, args=(venue, per_frame, *shared, child), daemon=True)
    proc.start()
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, parent.recv)
    try:
        yield url, shared, proc.pid or 0
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


async def bench(args: argparse.Namespace, log_dir: Path) -> list[dict[str, float]]:
    """Run the steps; return one result row per rate."""
    rows: list[dict[str, float]] = []
    with local_broker(log_dir / "kafka") as broker:
        prefix = "e2e%s" % uuid.uuid4().hex[:6]
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=aggregator, args=(broker.bootstrap, prefix, child))
        async with contextlib_feed(args) as (endpoint, feed, feeder_pid):
            venue = binance_usdm.NAME if args.source == "binance" else bybit.NAME
            cache = str(log_dir / "cache")
            settings = make_settings(broker.bootstrap, prefix, endpoint, cache, venue)
            venues = [bench_venue(args.source, args.conns)] if feed.synthetic is None else []
            sources = [feed.synthetic] if feed.synthetic is not None else []
            async with run_kafka(
                settings,
                aggregate=False,
                sources=sources,
                venues=venues,
                live=True,
                serve_http=False,
            ) as app:
                proc.start()
                loop = asyncio.get_running_loop()
                if await loop.run_in_executor(None, parent.recv) != "ready":
                    msg = "the aggregate process did not start"
                    raise RuntimeError(msg)
                feed.set_rate(WARMUP_RATE)  # warm-up: connected, group joined, topics assigned
                await asyncio.sleep(WARMUP_S)
                pids = {
                    "ingest": os.getpid(),
                    "aggregate": proc.pid or 0,
                    "broker": broker_pid(broker),
                    **({"feeder": feeder_pid} if feeder_pid else {}),
                }
                for rate in args.rates:
                    feed.set_rate(rate)
                    row = await _step(app, feed, parent, rate, args.step_s, pids)
                    rows.append(row)
                    print(_line(row), flush=True)
                    if row["p99"] > P99_LIMIT_S or row["rate"] < MIN_RATIO * rate:
                        break
                    feed.set_rate(WARMUP_RATE)
                    await asyncio.sleep(SETTLE_S)
                if feed.synthetic is not None:
                    feed.synthetic.stop.set()
                feed.set_rate(0)
                parent.send("quit")
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
    return rows


@asynccontextmanager
async def contextlib_feed(args: argparse.Namespace) -> AsyncIterator[tuple[str, Feed, int]]:
    """Yield the feeder endpoint ("" for synthetic), the `Feed` and the feeder's pid (0)."""
    if args.source == "synthetic":
        pool = list(liquidations(start_ns=time.time_ns(), duration_s=600, rate_per_s=500, seed=3))
        yield "", Feed(SteppedSource(pool), (None, None, None)), 0
        return
    async with feeder_process(args.source, args.per_frame) as (url, shared, pid):
        yield url, Feed(None, shared), pid


async def _step(
    app: KafkaHandle,
    feed: Feed,
    parent: Connection,
    rate: int,
    step_s: float,
    pids: dict[str, int],
) -> dict[str, float]:
    """Run one rate for `step_s` seconds; return its row."""
    loop = asyncio.get_running_loop()
    offered0, skipped0, delivered0 = feed.offered(), feed.skipped(), app.bus.delivered
    dropped0 = app.metrics.dropped.labels("queue_full")._value.get()
    cpu0 = {k: cpu_s(pid) for k, pid in pids.items()}
    parent.send("start")
    t0 = time.perf_counter()
    await asyncio.sleep(step_s)
    parent.send("stop")
    stats = await loop.run_in_executor(None, parent.recv)
    elapsed = time.perf_counter() - t0
    cpu = {"cpu_%s" % k: (cpu_s(pid) - cpu0[k]) / elapsed for k, pid in pids.items()}
    processed_per_s = max(stats["rate"], 1.0)
    cost = {"us_per_event_%s" % k[4:]: v / processed_per_s * 1e6 for k, v in cpu.items()}
    cost["us_per_event"] = sum(cost.values())
    return {
        "offered": rate,
        "sent": (feed.offered() - offered0) / elapsed,
        "feeder_skipped": feed.skipped() - skipped0,
        "fed": (app.bus.delivered - delivered0) / elapsed,
        "dropped": app.metrics.dropped.labels("queue_full")._value.get() - dropped0,
        "buffered_at_end": app.buffer.depth() + app.bus.depth(),
        **stats,
        **cpu,
        **cost,
    }


HEADER = "%8s %9s %9s %9s %8s %8s %8s %8s  %s" % (
    "offered", "sent/s", "kafka/s", "stage1/s", "dropped", "p50 ms", "p99 ms", "max ms",
    "CPU µs/event: feeder ingest broker aggregate = total",
)  # fmt: skip


def _line(row: dict[str, float]) -> str:
    return "%8d %9.0f %9.0f %9.0f %8d %8.1f %8.1f %8.1f  %5.1f %5.1f %5.1f %5.1f = %5.1f" % (
        row["offered"], row["sent"], row["fed"], row["rate"], row["dropped"],
        row["p50"] * 1e3, row["p99"] * 1e3, row.get("max", 0.0) * 1e3,
        row.get("us_per_event_feeder", 0.0), row["us_per_event_ingest"],
        row["us_per_event_broker"], row["us_per_event_aggregate"], row["us_per_event"],
    )  # fmt: skip


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    out = {"python": platform.python_version()}
    out["kafka"] = kafka_version()  # the broker's (tests/support/kafka/pom.xml)
    for name in ("aiokafka", "msgspec", "polars", "websockets"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Return the command line: source, connections, step length and rates."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--source", choices=("binance", "bybit", "synthetic"), default="binance")
    ap.add_argument("--conns", type=int, default=4, help="feeder connections")
    ap.add_argument("--per-frame", type=int, default=20, help="events per bybit frame")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    ap.add_argument("step_s", nargs="?", type=float, default=10.0)
    ap.add_argument("rates", nargs="*", type=int, default=list(RATES))
    return ap.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark; print the table; write the JSON results."""
    args = parse_args(argv)
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = bench(args, Path(tmp))
        if os.environ.get("BENCH_PROFILE_INGEST"):  # cProfile of this (ingest) process
            profile = cProfile.Profile()
            rows = profile.runcall(asyncio.run, run)
            profile.dump_stats(os.environ["BENCH_PROFILE_INGEST"])
        else:
            rows = asyncio.run(run)
    for r in rows:
        r["pass"] = r["p99"] <= P99_LIMIT_S and r["rate"] >= MIN_RATIO * r["offered"]
    sustained = [r["offered"] for r in rows if r["pass"]]
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": _versions(),
        "command": "python bench/kafka_e2e.py " + " ".join(argv),
        "source": args.source,
        "conns": args.conns if args.source != "synthetic" else 0,
        "events_per_frame": {"binance": 1, "bybit": args.per_frame}.get(args.source, 0),
        "step_s": args.step_s,
        "latency": "frame received (ts_recv_ns) -> event folded into its 1-s bucket (stage 1)",
        "criteria": {"p99_max_s": P99_LIMIT_S, "min_processed_ratio": MIN_RATIO},
        "steps": rows,
        "max_sustained_rate": max(sustained, default=0),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("max sustained: %d events/s; wrote %s" % (result["max_sustained_rate"], args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
