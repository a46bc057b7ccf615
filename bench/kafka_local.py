"""The Kafka benchmarks' broker and Kafka settings (`bench.kafka_e2e`, `bench.latency`).

Both start a fresh single-node Apache Kafka broker (KRaft) on free loopback ports with
`local_broker` (the tests' `tests.support.kafka_broker.KafkaBroker`, jars from
``scripts/kafka-jars``), give liqmon the same ``bus.kafka`` settings (`bench_kafka`), and
report the CPU each process used from ``/proc`` (`cpu_s`), the broker's included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.config import KafkaPartitions, KafkaSettings
from tests.support.kafka_broker import KafkaBroker, free_ports, kafka_version

__all__ = [
    "KafkaBroker",
    "bench_kafka",
    "broker_pid",
    "cpu_s",
    "free_ports",
    "kafka_version",
    "local_broker",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def bench_kafka(bootstrap: str, prefix: str) -> KafkaSettings:
    """Return the benchmarks' ``bus.kafka``: 4 liquidation and 2 tick partitions, deep queues.

    Topics are ``<prefix>.liquidations.v1`` etc. (a fresh prefix per run: fresh topics).
    """
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        partitions=KafkaPartitions(liquidations=4, ticks=2, margin=1, windows=1, alerts=1),
        auto_offset_reset="latest",
        linger_ms=5,
        fetch_max_wait_ms=10,
        max_in_flight=200_000,
    )


@contextmanager
def local_broker(workdir: Path) -> Iterator[KafkaBroker]:
    """Start a broker with its data and log under `workdir`; stop it (SIGTERM) on exit.

    Raises:
        BrokerStartError: no java, no jars (run ``scripts/kafka-jars``), or not ready in time.
    """
    with KafkaBroker(workdir) as broker:
        yield broker


def broker_pid(broker: KafkaBroker) -> int:
    """Return the broker JVM's pid (0 when it is not running), for `cpu_s`."""
    proc = broker._proc  # the test helper does not expose its pid
    return proc.pid if proc is not None else 0


def cpu_s(pid: int) -> float:
    """Return the user + system CPU seconds process `pid` (and its reaped children) used."""
    fields = Path("/proc/%d/stat" % pid).read_text().rpartition(")")[2].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK
