"""A recording of any age published to the topics, judged by a running ``liqmon aggregate``.

With the real commands: ``liqmon aggregate`` runs (live, as deployed);
``liqmon replay FILE --bus kafka --publish-only`` publishes a simulated Hawkes day whose
event times are long past. The alerts topic must hold the memory replay's alerts. Before
stage 1 closed only caught-up partitions by the wall clock (and the cross stage stopped
closing by it), the wall clock pushed every partition past its backlog: 52 of the 69
alerts came out, at other times. With two live aggregates that had marked their empty
partitions idle before the publish, one member's first summaries could close seconds before
the other member read its partitions' first records, which then came late: one run of two
here gave 13 of the 69 alerts at other times. The cross stage now asks the broker whether an idle
partition got records before it closes past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import KafkaSettings
from monitor.events import TOPIC_ALERTS, Alert
from monitor.io.jsonl import read_events
from tests.support.kafka_read import read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

Key = tuple[str, str, str, str, int]
IDLE_MARKED_S = 12.0  # a live stage 1 marks an empty partition idle after 10 s of quiet


def keys(alerts: list[Alert]) -> list[Key]:
    """What must be equal: kind, scope, state, severity and event time (sorted)."""
    return sorted((a.kind, a.scope, a.state, a.severity, a.ts_ns) for a in alerts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def role_env(kafka: KafkaSettings, state_dir: Path) -> dict[str, str]:
    """Return the environment of a deployed role on the test's broker and topic prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
    env.update(
        LIQMON_SOURCES__ENABLED="[]",
        LIQMON_BUS__KIND="kafka",
        LIQMON_BUS__KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        LIQMON_BUS__KAFKA__TOPIC_PREFIX=kafka.topic_prefix,
        LIQMON_BUS__KAFKA__PARTITIONS__LIQUIDATIONS=str(kafka.partitions.liquidations),
        LIQMON_BUS__KAFKA__PARTITIONS__TICKS=str(kafka.partitions.ticks),
        LIQMON_STATE__DIR=str(state_dir),
    )
    return env


async def start(argv: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start ``liqmon ARGV`` as a child process (stderr kept for the failure message)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *argv, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def alerts_on_topic(kafka: KafkaSettings) -> list[Key]:
    return keys([e for e in await read_topic(kafka, TOPIC_ALERTS) if isinstance(e, Alert)])


@pytest.fixture
def hawkes_day(tmp_path: Path) -> tuple[Path, list[Key]]:
    """Return a simulated Hawkes day (January 2026) and its memory replay's alerts."""
    events, memory = tmp_path / "hawkes.jsonl", tmp_path / "memory.jsonl"
    argv = ["simulate", "--scenario", "hawkes", "--seed", "3", "--duration-h", "24"]
    assert main([*argv, "--cascades", "4", "--out", str(events)]) == 0
    assert main(["replay", str(events), "--quiet", "--alerts-out", str(memory)]) == 0
    return events, keys([a for a in read_events(memory) if isinstance(a, Alert)])


@pytest.mark.parametrize("members", [1, 2])
async def test_running_aggregates_judge_a_published_recording_as_the_replay_does(
    members: int, hawkes_day: tuple[Path, list[Key]], kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange: `members` aggregates of one group; two have marked their empty input
    # partitions idle before the publish starts (the race the cross stage's check closes)
    events, reference = hawkes_day
    assert len({k[1] for k in reference if k[0] == "cascade"}) >= 2
    aggregates = []
    for n in range(members):
        argv = ["aggregate", "--metrics-addr", "127.0.0.1:%d" % free_port()]
        env = role_env(kafka_settings, tmp_path / ("state-%d" % n))
        aggregates.append(await start(argv, env))
    if members > 1:
        await asyncio.sleep(IDLE_MARKED_S)
    got: list[Key] = []
    try:
        # Act: publish the recording while they run, then wait for the alerts
        argv = ["replay", str(events), "--publish-only"]
        publish = await start(argv, role_env(kafka_settings, tmp_path / "publisher"))
        _, err = await asyncio.wait_for(publish.communicate(), 180)
        assert publish.returncode == 0, err.decode()[-2000:]
        with contextlib.suppress(TimeoutError):  # then the assertion shows what differs
            async with asyncio.timeout(240):
                while got != reference and len(got) <= len(reference):
                    await asyncio.sleep(2)
                    got = await alerts_on_topic(kafka_settings)
    finally:
        for aggregate in aggregates:
            aggregate.send_signal(signal.SIGTERM)
        errors = [(await a.communicate())[1] for a in aggregates]
    # Assert
    for aggregate, error in zip(aggregates, errors, strict=True):
        assert aggregate.returncode == 0, error.decode()[-2000:]
    assert got == reference
