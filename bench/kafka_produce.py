"""Measure the Kafka bus against a local Apache Kafka broker (run by hand; not a test).

The broker is the tests' (`tests.support.kafka_broker`): run ``scripts/kafka-jars`` first.

1. ``KafkaBus.publish`` throughput for N liquidation events per compression codec
   (zstd, lz4, none; a codec whose library is missing is reported and skipped). Each codec
   gets a fresh broker. "publish" is the time until every ``publish()`` call returned,
   "delivered" until the brokers acknowledged every send.
2. End-to-end latency, publish → consume (``batches``), at a steady rate, p50/p99.

Usage: PYTHONPATH=. python bench/kafka_produce.py [N] [RATE_PER_S] [SECONDS]
(defaults 200000, 5000, 10). zstd and lz4 need ``cramjam`` (``aiokafka[zstd,lz4]``).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import compression_of
from monitor.codec import encode
from monitor.config import KafkaSettings
from monitor.errors import ConfigError
from monitor.events import TOPIC_LIQUIDATIONS, Liquidation
from monitor.synth import liquidations
from tests.support.kafka_broker import KafkaBroker

T0_NS = 1_767_225_600 * 1_000_000_000
CHUNK = 1_000


def settings(bootstrap: str, **overrides: object) -> KafkaSettings:
    """Return bench settings: the production producer (idempotent, acks=all), a fresh prefix."""
    base: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "topic_prefix": "b%s" % uuid.uuid4().hex[:8],
        "auto_offset_reset": "latest",
    }
    base.update(overrides)
    return msgspec.convert(base, KafkaSettings)


async def throughput(events: list[Liquidation], codec: str, log_dir: Path) -> str:
    """Publish `events` with `codec` on a fresh broker; return one result line."""
    with KafkaBroker(log_dir / ("kafka-%s" % codec)) as broker:
        s = settings(broker.bootstrap, compression=codec)
        try:
            compression_of(s)
        except ConfigError as exc:
            return "%-5s skipped: %s" % (codec, exc)
        async with KafkaBus(s) as bus:
            started = time.perf_counter()
            for i in range(0, len(events), CHUNK):
                await bus.publish(events[i : i + CHUNK], timeout_s=None)
            published = time.perf_counter() - started
            await bus.flush(120)
            delivered = time.perf_counter() - started
            ok, failed = bus.delivered, bus.failed
    n = len(events)
    return "%-5s publish %8.0f ev/s (%.2f s)  delivered %8.0f ev/s (%.2f s)  ok %d failed %d" % (
        codec,
        n / published,
        published,
        n / delivered,
        delivered,
        ok,
        failed,
    )


async def latency(template: Liquidation, rate: float, seconds: float, log_dir: Path) -> str:
    """Publish at `rate` events/s for `seconds` and consume in the same loop; p50/p99."""
    tick_s = 0.01
    per_tick = max(1, round(rate * tick_s))
    with KafkaBroker(log_dir / "kafka-latency") as broker:
        async with KafkaBus(settings(broker.bootstrap)) as bus:
            sub = bus.subscribe([TOPIC_LIQUIDATIONS], "bench-%s" % uuid.uuid4().hex[:6])
            lat_ms: list[float] = []
            ready = asyncio.Event()
            stop = asyncio.Event()

            async def consume() -> None:
                async for batch in sub.batches(5_000, 50):
                    now = time.time_ns()
                    lat_ms.extend((now - e.ts_recv_ns) / 1e6 for e in batch)
                    if sub.assignment():
                        ready.set()
                    if stop.is_set():
                        return

            task = asyncio.create_task(consume())
            await asyncio.wait_for(ready.wait(), 30)
            await asyncio.sleep(0.5)
            loop = asyncio.get_running_loop()
            start = loop.time()
            sent = 0
            while (elapsed := loop.time() - start) < seconds:
                due = int(elapsed * rate) - sent
                if due > 0:
                    now = time.time_ns()
                    chunk = [
                        msgspec.structs.replace(template, ts_recv_ns=now, event_id=str(sent + i))
                        for i in range(min(due, per_tick * 4))
                    ]
                    sent += await bus.publish(chunk, timeout_s=0.05)
                await asyncio.sleep(tick_s)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.wait_for(task, 5)
    warm = lat_ms[int(len(lat_ms) * 0.1) :]
    q = statistics.quantiles(warm, n=100)
    return "latency at %.0f ev/s: sent %d received %d  p50 %.1f ms  p99 %.1f ms  max %.1f ms" % (
        rate,
        sent,
        len(lat_ms),
        q[49],
        q[98],
        max(warm),
    )


async def main() -> None:
    """Run both measurements and print one line per result."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 5_000.0
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    stream = liquidations(start_ns=T0_NS, duration_s=n / 50, rate_per_s=100.0)
    events = [e for _, e in zip(range(n), stream, strict=False)]
    size = sum(len(encode(e)) for e in events) / max(1, len(events))
    print("%d liquidation events, %.0f B each on average (JSON)" % (len(events), size))
    with tempfile.TemporaryDirectory() as tmp:
        for codec in ("zstd", "lz4", "none"):
            print(await throughput(events, codec, Path(tmp)))
        print(await latency(events[0], rate, seconds, Path(tmp)))


if __name__ == "__main__":
    asyncio.run(main())
