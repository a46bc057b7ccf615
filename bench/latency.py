"""Frame received → alert on ``/metrics`` and at a webhook sink, at 10,000 events/s (bench (d)).

Three processes, as an operator runs them:

* a feeder (child process): a local Binance USDⓈ-M look-alike WebSocket server. Every 5 ms
  it sends each ``!forceOrder@arr`` connection the calm background due at RATE frames/s
  (12 symbols, tiny sizes, each symbol both sides in turn: nothing fires), and every
  CYCLE_S seconds, after a
  warm-up, one cascade: BURST frames of large BTC long liquidations in one 5-ms tick, at a
  point of its wall-clock second that moves from cascade to cascade (`burst_phase`). It
  reports the wall time (``time.time_ns``) just before writing the first burst frame;
* ``liqmon run`` (child process, memory bus, the real CLI) pointed at the feeder
  (``sources.endpoint_override``) with its webhook sink pointed at this process;
* this process: the webhook receiver (aiohttp; arrival times) and a ``/metrics`` poller
  (every POLL_S) that notes when ``liqmon_alerts_total{kind="cascade",state="pending"}``
  grows (pending visible) and when ``liqmon_alert_active{kind="cascade",scope="BTC"}``
  becomes 1 (firing visible).

Latency is measured from the burst's first frame leaving the feeder (on loopback that is
within microseconds of the daemon's socket receiving it; it makes the figure an upper
bound) to each of: pending on /metrics, pending at the webhook, firing on /metrics, firing
at the webhook. Firing comes ``for_s`` after pending by design; the lifecycle here is
shortened (burst window 10 s, ``for_s`` 5 s for bursts and the rest, resolve after 3 s,
no lifecycle or sink cooldown) so that one cascade cycle takes CYCLE_S seconds; everything
else is the default configuration, including ``aggregate.grace_ms`` (250 ms: a second
closes once an event 250 ms newer than its end arrived).

``--grace-ms`` shows what another grace gives (it sets a floor under the latency).

``--bus kafka``: the same feeder, cascades and configuration, but ``liqmon run`` becomes
three processes: a fresh Apache Kafka broker started as `bench.kafka_e2e` starts it
(`bench.kafka_local`: one KRaft node, the same ``bus.kafka`` settings, except
``auto_offset_reset: earliest`` so that the aggregate reads the topics from their first
record), then ``liqmon aggregate`` (webhook sink and /metrics: the ones watched) and, once
it answers ``/readyz``, ``liqmon ingest`` (pointed at the feeder). The backlog reported is
the aggregate's consumer lag instead of the memory bus's queue. Both modes report the CPU
each process used from the first cascade to the end (cores, and µs per offered event).

Usage: python bench/latency.py [--bus memory|kafka] [--cascades 10] [--rate 10000]
                               [--grace-ms MS] [--out bench/results/latency.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402

from bench.latency_daemons import DEPTH_SERIES, START_S, cpu_report, cpu_s, daemons  # noqa: E402

TICK_S = 0.005
POLL_S = 0.01
WARMUP_S = 15.0
CYCLE_S = 40.0  # > for_s + burst window + resolve_after_s + the pipeline lag
BURST = 50
TARGET_S = 1.0
GOLDEN = (5**0.5 - 1) / 2  # 0.618…: successive phases fill [0, 1) evenly
SYMBOLS = (
    ("BTCUSDT", 95_000.0), ("ETHUSDT", 3_300.0), ("SOLUSDT", 180.0), ("XRPUSDT", 2.4),
    ("DOGEUSDT", 0.3), ("AVAXUSDT", 30.0), ("LINKUSDT", 20.0), ("NEARUSDT", 4.0),
    ("BNBUSDT", 600.0), ("ADAUSDT", 0.7), ("LTCUSDT", 90.0), ("DOTUSDT", 6.0),
)  # fmt: skip
FRAME = (
    '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":%d,"o":{"s":"%s","S":"%s",'
    '"o":"LIMIT","f":"IOC","q":"%s","p":"%s","ap":"%s","X":"FILLED","l":"%s","z":"%s",'
    '"T":%d}}}'
)


def frame(seq: int, now_ms: int, *, burst: bool) -> str:
    """Return one ``forceOrder`` message; calm ones are tiny, burst ones 20 BTC longs."""
    if burst:
        symbol, price, side, qty = "BTCUSDT", 95_000.0, "SELL", "20.%06d" % seq
    else:
        symbol, price = SYMBOLS[seq % len(SYMBOLS)]
        side = "SELL" if (seq // len(SYMBOLS)) % 2 else "BUY"  # each symbol: both sides
        qty = "0.000%d%06d" % (seq % 7 + 1, seq % 1_000_000)
    px = "%.2f" % price
    return FRAME % (now_ms, symbol, side, qty, px, px, qty, qty, now_ms)


def burst_phase(k: int) -> float:
    """Return where in its wall-clock second cascade `k` starts (0–1 s, evenly spread).

    The wait for a second to close depends on this phase, so the cascades sweep it (golden
    ratio steps) rather than all landing at the same point of their second.
    """
    return (k * GOLDEN) % 1.0


def feeder(rate: float, cascades: int, conn: Connection) -> None:
    """Child process: serve frames; send the port, then each burst's start time (ns)."""

    async def handler(ws: ServerConnection) -> None:
        if "forceOrder" not in (ws.request.path if ws.request else ""):
            await ws.wait_closed()  # the other streams stay open and quiet
            return
        seq, sent, started = 0, 0, time.monotonic()
        next_burst, bursts, fire_at = started + WARMUP_S, 0, None
        with contextlib.suppress(Exception):
            while True:
                now = time.monotonic()
                now_ms = time.time_ns() // 1_000_000
                if bursts < cascades and now >= next_burst and fire_at is None:
                    fire_at = math.floor(time.time()) + 1 + burst_phase(bursts)
                if fire_at is not None and time.time() >= fire_at:
                    fire_at = None
                    conn.send(time.time_ns())
                    for k in range(BURST):
                        await ws.send(frame(seq + k, now_ms, burst=True))
                    seq += BURST
                    bursts += 1
                    next_burst += CYCLE_S
                due = int((now - started) * rate)
                for _ in range(due - sent):
                    await ws.send(frame(seq, now_ms, burst=False))
                    seq += 1
                sent = due
                await asyncio.sleep(TICK_S)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            conn.send(next(iter(server.sockets)).getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def daemon_config(
    feed_port: int, hook_url: str, cache: str, grace_ms: int | None
) -> dict[str, Any]:
    """Return the ``liqmon run`` config: defaults, the local venue, the webhook, short cycle."""
    grace = {} if grace_ms is None else {"aggregate": {"grace_ms": grace_ms}}
    return grace | {
        "log": {"level": "warning"},
        "sources": {
            "enabled": ["binance_usdm"],
            "endpoint_override": {"binance_usdm": "ws://127.0.0.1:%d" % feed_port},
            "rest_override": {"binance_usdm": "http://127.0.0.1:9"},  # no catalogue: seeds
            "cache_dir": cache,
            "symbols": {"binance_usdm": [s for s, _ in SYMBOLS]},
        },
        "alerts": {"webhook": {"url": hook_url}, "cooldown_s": 0},  # every cascade delivered
        "detect": {
            "burst": {"window_s": 10, "for_s": 5},
            "lifecycle": {"for_s": 5, "resolve_after_s": 3, "cooldown_s": 0},
        },
    }


class Watch:
    """Arrival times (ns) of pending/firing at the webhook and on /metrics."""

    def __init__(self, depth_series: str) -> None:
        self.hook: dict[str, list[int]] = {"pending": [], "firing": []}
        self.metrics: dict[str, list[int]] = {"pending": [], "firing": []}
        self.depth_series = depth_series  # the backlog gauge: memory queue or consumer lag
        self.max_depth = 0.0  # deepest backlog seen: > 0 for long means falling behind

    async def on_post(self, request: web.Request) -> web.Response:
        """Record a webhook arrival of a BTC cascade transition."""
        now = time.time_ns()
        body = json.loads(await request.text())
        if body.get("kind") == "cascade" and body.get("scope") == "BTC":
            self.hook.setdefault(body.get("state", "?"), []).append(now)
        return web.Response(text="ok")

    async def poll(self, port: int) -> None:
        """Poll /metrics every POLL_S; note each rise of pending and each start of firing."""
        url = "http://127.0.0.1:%d/metrics" % port
        pending_seen, firing = None, False
        async with aiohttp.ClientSession() as session:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        text = await response.text()
                    now = time.time_ns()
                    pending, active, depth = _read(text, self.depth_series)
                    self.max_depth = max(self.max_depth, depth)
                    if pending_seen is not None and pending > pending_seen:
                        self.metrics["pending"].append(now)
                    pending_seen = pending
                    if active and not firing:
                        self.metrics["firing"].append(now)
                    firing = active
                await asyncio.sleep(POLL_S)


def _read(text: str, depth_series: str) -> tuple[float, bool, float]:
    """Return the cascade pending count, whether BTC's cascade fires, and the backlog."""
    pending, active, depth = 0.0, False, 0.0
    for line in text.splitlines():
        if line.startswith(depth_series):
            depth = float(line.rsplit(" ", 1)[1])
        if line.startswith("liqmon_alerts_total{") and 'kind="cascade"' in line:
            if 'state="pending"' in line:
                pending += float(line.rsplit(" ", 1)[1])
        elif line.startswith("liqmon_alert_active{") and 'kind="cascade",scope="BTC"' in line:
            active = float(line.rsplit(" ", 1)[1]) >= 1
    return pending, active, depth


def after(starts: list[int], arrivals: list[int]) -> list[float]:
    """Return, per burst start, seconds to the first arrival after it (before the next)."""
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        hits = [a for a in arrivals if a >= start and (end is None or a < end)]
        if hits:
            out.append((min(hits) - start) / 1e9)
    return out


def summary(values: list[float]) -> dict[str, float | int]:
    """Return n, p50, p99 (nearest rank) and max of `values` in seconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"n": len(values), "p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


async def measure(
    rate: float, cascades: int, grace_ms: int | None, bus: str = "memory"
) -> dict[str, object]:
    """Run feeder, daemon(s) and watchers; return the latency summaries and the CPU used."""
    watch = Watch(DEPTH_SERIES[bus])
    app = web.Application()
    app.router.add_post("/alerts", watch.on_post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_url = "http://127.0.0.1:%d/alerts" % runner.addresses[0][1]
    parent, child = mp.Pipe()
    feed = mp.get_context("spawn").Process(target=feeder, args=(rate, cascades, child))
    feed.start()
    starts: list[int] = []
    cpu0: dict[str, float] = {}
    t0 = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        loop = asyncio.get_running_loop()
        feed_port = await loop.run_in_executor(None, parent.recv)
        cfg = daemon_config(feed_port, hook_url, tmp, grace_ms)
        try:
            async with daemons(bus, cfg, Path(tmp)) as (http_port, pids):
                pids["feeder"] = feed.pid or 0
                poller = asyncio.create_task(watch.poll(http_port))
                try:
                    deadline = time.monotonic() + START_S + WARMUP_S + cascades * CYCLE_S
                    while time.monotonic() < deadline and len(starts) < cascades:
                        if await loop.run_in_executor(None, parent.poll, 0.5):
                            starts.append(parent.recv())
                            if len(starts) == 1:  # CPU from here: the start-ups left out
                                cpu0 = {name: cpu_s(pid) for name, pid in pids.items()}
                                t0 = time.monotonic()
                    await asyncio.sleep(CYCLE_S)  # the last cascade's firing
                finally:
                    poller.cancel()
                cpu = cpu_report(pids, cpu0, time.monotonic() - t0, rate) if cpu0 else {}
        finally:
            feed.kill()
            feed.join()
            await runner.cleanup()
    return {
        "bus": bus,
        "rate_per_s": rate,
        "cascades": len(starts),
        "for_s": 5,
        "grace_ms": "default" if grace_ms is None else grace_ms,
        "from": "the first frame of the burst leaving the feeder",
        "pending_metrics_s": summary(after(starts, watch.metrics["pending"])),
        "pending_webhook_s": summary(after(starts, watch.hook["pending"])),
        "firing_metrics_s": summary(after(starts, watch.metrics["firing"])),
        "firing_webhook_s": summary(after(starts, watch.hook["firing"])),
        "max_bus_queue_depth" if bus == "memory" else "max_consumer_lag_events": watch.max_depth,
        "cpu": cpu,
        "target_p99_s": TARGET_S,
    }


def command_line() -> str:
    """Return how this benchmark was started, relative to the repository (for the report)."""
    return " ".join([".venv/bin/python", "bench/%s.py" % Path(__file__).stem, *sys.argv[1:]])


def main() -> None:
    """Parse arguments, measure, print and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bus", choices=tuple(DEPTH_SERIES), default="memory")
    parser.add_argument("--cascades", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--grace-ms", type=int, help="aggregate.grace_ms (default: the default)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latency.json")
    args = parser.parse_args()
    result: dict[str, object] = asyncio.run(
        measure(args.rate, args.cascades, args.grace_ms, args.bus)
    )
    result["command"] = command_line()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
