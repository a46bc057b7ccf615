"""Offered-rate stepping benchmark: ingest → Kafka (Tansu) → aggregate stage 1 (run by hand).

Three processes on this machine: a fresh Tansu broker; this process running ``liqmon
ingest`` (`run_kafka` with ``ingest`` only: a paced source → the bounded ingest buffer →
the publisher → `KafkaBus`); and a child process running ``liqmon aggregate`` (both stages,
live) with `BucketStage.record_latency` on. The source offers liquidation events (built
ahead from `monitor.synth`, each stamped ``ts_recv_ns`` = now when published) at each rate
for STEP_S seconds. Per step: the rate fed (accepted by the ingest buffer), the rate stage 1
processed, and the latency from ``ts_recv_ns`` to the event folded into its 1-second bucket
(`BucketStage.latency_s`), p50/p99. Stepping stops at p99 > 250 ms or when stage 1
processed < 95 % of the offered rate.

Usage: python bench/kafka_e2e.py [STEP_S] [RATES...]   (defaults 10; 5k 10k 20k 40k 60k 80k
100k). Prints a table and writes bench/results/kafka_e2e.json.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import config  # noqa: E402
from monitor.config import KafkaPartitions, KafkaSettings, Settings  # noqa: E402
from monitor.events import Event, Liquidation  # noqa: E402
from monitor.kafka_app import run_kafka  # noqa: E402
from monitor.synth import liquidations  # noqa: E402
from tests.support.tansu import TansuBroker  # noqa: E402

RATES = (5_000, 10_000, 20_000, 40_000, 60_000, 80_000, 100_000)
P99_LIMIT_S = 0.250
MIN_RATIO = 0.95
TICK_S = 0.005  # the source publishes every 5 ms
RESULTS = ROOT / "bench" / "results" / "kafka_e2e.json"


def make_settings(bootstrap: str, prefix: str) -> Settings:
    """Return the bench settings: Tansu-compatible Kafka, no HTTP."""
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        partitions=KafkaPartitions(liquidations=4, ticks=2, margin=1, windows=1, alerts=1),
        idempotent=False,
        auto_offset_reset="latest",
        session_timeout_ms=1_500,
        linger_ms=5,
        fetch_max_wait_ms=10,
        max_in_flight=200_000,
    )
    return config.load(
        None,
        env={},
        overrides={
            "bus.kind": "kafka",
            "bus.kafka": msgspec.to_builtins(kafka),
            "bus.queue_max_events": 500_000,
            "log.level": "warning",
        },
    )


class SteppedSource:
    """Publishes pre-built liquidations at `rate` events/s (changed by the bench)."""

    def __init__(self, pool: list[Liquidation]) -> None:
        self.pool = pool
        self.rate = 0.0
        self.offered = 0
        self.accepted = 0
        self.stop = asyncio.Event()

    async def run(self, publish: Callable[[Sequence[Event]], Awaitable[int]]) -> None:
        """Publish on a fixed 5-ms grid: what is due since the start of the rate."""
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
            batch = [replace(pool[(i + j) % n], ts_recv_ns=ts) for j in range(k)]
            i += k
            self.offered += k
            self.accepted += await publish(batch)


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


async def bench(step_s: float, rates: Sequence[int], log_dir: Path) -> list[dict[str, float]]:
    """Run the steps; return one result row per rate."""
    pool = list(liquidations(start_ns=time.time_ns(), duration_s=600, rate_per_s=500, seed=3))
    rows: list[dict[str, float]] = []
    with TansuBroker(log_dir / "tansu.log") as broker:
        prefix = "e2e%s" % uuid.uuid4().hex[:6]
        settings = make_settings(broker.bootstrap, prefix)
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=aggregator, args=(broker.bootstrap, prefix, child))
        source = SteppedSource(pool)
        async with run_kafka(
            settings, aggregate=False, sources=[source], live=True, serve_http=False
        ) as app:
            proc.start()
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, parent.recv) != "ready":
                msg = "the aggregate process did not start"
                raise RuntimeError(msg)
            source.rate = 1_000  # warm-up: group joined, topics assigned
            await asyncio.sleep(4)
            for rate in rates:
                source.rate = rate
                offered0, accepted0 = source.offered, source.accepted
                dropped0 = app.metrics.dropped.labels("queue_full")._value.get()
                parent.send("start")
                t0 = time.perf_counter()
                await asyncio.sleep(step_s)
                parent.send("stop")
                stats = await loop.run_in_executor(None, parent.recv)
                elapsed = time.perf_counter() - t0
                row = {
                    "offered": rate,
                    "fed": (source.accepted - accepted0) / elapsed,
                    "generated": (source.offered - offered0) / elapsed,
                    "dropped": app.metrics.dropped.labels("queue_full")._value.get() - dropped0,
                    "buffered_at_end": app.buffer.depth() + app.bus.depth(),
                    **stats,
                }
                rows.append(row)
                print(_line(row), flush=True)
                if row["p99"] > P99_LIMIT_S or row["rate"] < MIN_RATIO * rate:
                    break
                source.rate = 1_000  # let a backlog of this step clear before the next
                await asyncio.sleep(2)
            source.stop.set()
            parent.send("quit")
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
    return rows


HEADER = "%8s %9s %9s %9s %8s %8s %8s" % (
    "offered", "fed/s", "stage1/s", "dropped", "p50 ms", "p99 ms", "max ms",
)  # fmt: skip


def _line(row: dict[str, float]) -> str:
    return "%8d %9.0f %9.0f %9d %8.1f %8.1f %8.1f" % (
        row["offered"], row["fed"], row["rate"], row["dropped"],
        row["p50"] * 1e3, row["p99"] * 1e3, row.get("max", 0.0) * 1e3,
    )  # fmt: skip


def main(argv: Sequence[str]) -> int:
    """Run the benchmark; print the table; write the JSON results."""
    step_s = float(argv[0]) if argv else 10.0
    rates = [int(r) for r in argv[1:]] or list(RATES)
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(bench(step_s, rates, Path(tmp)))
    sustained = [
        r for r in rows if r["p99"] <= P99_LIMIT_S and r["rate"] >= MIN_RATIO * r["offered"]
    ]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "step_s": step_s,
        "criteria": {"p99_max_s": P99_LIMIT_S, "min_processed_ratio": MIN_RATIO},
        "steps": rows,
        "max_sustained_offered": max((r["offered"] for r in sustained), default=0),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print("max sustained: %d events/s; wrote %s" % (result["max_sustained_offered"], RESULTS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
