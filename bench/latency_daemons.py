"""The daemons `bench.latency` measures: ``liqmon run``, or a broker, ``aggregate`` and ``ingest``.

Started as an operator starts them (the real CLI, a config file, ``--metrics-addr``); the
Kafka mode's broker and ``bus.kafka`` settings are `bench.kafka_local`'s, as for
`bench.kafka_e2e`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from bench.kafka_local import bench_kafka, broker_pid, cpu_s, free_ports, local_broker

__all__ = ["DEPTH_SERIES", "START_S", "cpu_report", "cpu_s", "daemons"]

ROOT = Path(__file__).resolve().parent.parent
START_S = 90.0  # bound on a daemon's start-up (the aggregate's /readyz in Kafka mode)
DEPTH_SERIES = {
    "memory": 'liqmon_bus_queue_depth{bus="memory"}',
    "kafka": 'liqmon_bus_consumer_lag_events{bus="kafka"}',  # the aggregate's stage 1
}


def _start(command: str, cfg: dict[str, Any], tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``liqmon COMMAND`` (the real CLI) with `cfg` and its HTTP on `port`."""
    path = tmp / ("%s.yaml" % command)  # JSON is YAML
    path.write_text(json.dumps(cfg), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
    return subprocess.Popen(  # noqa: S603  (the bench's own command)
        [sys.executable, "-m", "monitor", command, "--config", str(path),
         "--metrics-addr", "127.0.0.1:%d" % port], env=env, cwd=ROOT,
    )  # fmt: skip


async def _stop(*procs: subprocess.Popen[bytes]) -> None:
    """SIGTERM each process in turn and wait for it (the daemons stop cleanly)."""
    loop = asyncio.get_running_loop()
    for proc in procs:
        proc.terminate()
        await loop.run_in_executor(None, proc.wait)


async def _ready(port: int) -> None:
    """Wait (at most START_S) until ``/readyz`` on `port` answers 200."""
    url = "http://127.0.0.1:%d/readyz" % port
    deadline = time.monotonic() + START_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    msg = "liqmon aggregate not ready on port %d within %.0f s" % (port, START_S)
    raise RuntimeError(msg)


@contextlib.asynccontextmanager
async def daemons(
    bus: str, cfg: dict[str, Any], tmp: Path
) -> AsyncIterator[tuple[int, dict[str, int]]]:
    """Start the daemon(s) of `bus`; yield the alerting process's HTTP port and the pids.

    ``memory``: ``liqmon run``. ``kafka``: a broker, ``liqmon aggregate`` (ready first, so
    that its consumers exist before the first record), then ``liqmon ingest``.
    """
    if bus == "memory":
        port = free_ports(1)[0]
        run = _start("run", cfg, tmp, port)
        try:
            yield port, {"run": run.pid}
        finally:
            await _stop(run)
        return
    with local_broker(tmp / "kafka") as broker:
        kafka = bench_kafka(broker.bootstrap, "lat%s" % uuid.uuid4().hex[:6])
        kafka = msgspec.structs.replace(kafka, auto_offset_reset="earliest")
        cfg = cfg | {"bus": {"kind": "kafka", "kafka": msgspec.to_builtins(kafka)}}
        port = free_ports(1)[0]
        aggregate = _start("aggregate", cfg, tmp, port)
        ingest = None
        try:
            await _ready(port)
            ingest = _start("ingest", cfg, tmp, free_ports(1)[0])
            yield port, {"ingest": ingest.pid, "broker": broker_pid(broker),
                         "aggregate": aggregate.pid}  # fmt: skip
        finally:
            await _stop(*(p for p in (ingest, aggregate) if p is not None))


def cpu_report(
    pids: dict[str, int], cpu0: dict[str, float], elapsed: float, rate: float
) -> dict[str, object]:
    """Return the CPU each process of `pids` used since `cpu0` (`cpu_s`, `elapsed` s ago).

    In cores, and in µs per offered event at `rate` events/s.
    """
    cores = {name: (cpu_s(pids[name]) - before) / elapsed for name, before in cpu0.items()}
    return {
        "seconds": round(elapsed, 1),
        "cores": {name: round(c, 3) for name, c in cores.items()},
        "us_per_event": {name: round(c / rate * 1e6, 1) for name, c in cores.items()},
    }
