"""The Kafka roles against a real broker: same alerts as the memory bus, groups, recovery.

Each test has its own topic prefix and consumer groups (``kafka_settings``) and runs under
``asyncio.timeout``. The recording is the synthetic two-hour BTC burst of the replay tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgspec
import pytest

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import physical_topic
from monitor.clock import SimClock
from monitor.config import KafkaSettings, Settings
from monitor.events import TOPIC_ALERTS, Alert, Event
from monitor.io.jsonl import read_events
from monitor.replay.source import ReplaySource
from monitor.runtime.embedded import run_app
from monitor.runtime.kafka.replay_end import drain_to_end, published_ends
from monitor.runtime.kafka.roles import KafkaHandle, run_kafka
from tests.support.kafka_pair import kill_one_of_two, role_settings, wait_for
from tests.support.kafka_read import read_topic
from tests.support.synth import write_burst_file

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

AlertKey = tuple[str, str, str, int]


def keys(alerts: Sequence[Alert]) -> list[AlertKey]:
    return sorted((a.kind, a.scope, a.state, a.ts_ns) for a in alerts)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_burst_file(tmp_path_factory.mktemp("rec") / "burst.jsonl")


async def memory_alerts(path: Path, settings: Settings) -> list[AlertKey]:
    source = ReplaySource([path], clock=SimClock())
    async with run_app(
        settings, sources=[source], live=False, serve_http=False, log_alerts=False
    ) as app:
        await app.pipeline_done.wait()
    return keys(app.alerts)


async def publish(path: Path, kafka: KafkaSettings) -> dict[tuple[str, int], int]:
    events: list[Event] = list(read_events(path))
    async with KafkaBus(kafka) as bus:
        for i in range(0, len(events), 5_000):
            await bus.publish(events[i : i + 5_000], timeout_s=None)
        assert await bus.flush(30)
        return dict(bus.end_offsets)


@contextlib.asynccontextmanager
async def aggregator(settings: Settings, group: str) -> AsyncIterator[KafkaHandle]:
    async with run_kafka(
        settings, ingest=False, group=group, live=False, serve_http=False, log_alerts=False
    ) as handle:
        yield handle


async def drain(
    handles: Sequence[KafkaHandle], ends: dict[tuple[str, int], int], kafka: KafkaSettings
) -> list[AlertKey]:
    """Process every record up to `ends`, close every second; return the alerts raised."""
    del kafka
    await drain_to_end(handles, ends)
    return keys([a for h in handles for a in h.alerts])


async def test_one_aggregate_process_gives_the_memory_alerts(
    recording: Path, kafka_settings: KafkaSettings
) -> None:
    # Arrange
    settings = role_settings(kafka_settings)
    reference = await memory_alerts(recording, settings)
    assert reference, "the recording must raise alerts"
    async with asyncio.timeout(90):
        # Act
        ends = await publish(recording, kafka_settings)
        async with aggregator(settings, "g1") as handle:
            got = await drain([handle], ends, kafka_settings)
            assert handle.cross is not None
            engine = handle.cross.engine  # rebuilt when the stage got its partition
            labels = {"scope": "market", "window": "3600s", "position_side": "long"}
            shown = handle.registry.get_sample_value("liqmon_window_liquidated_usd", labels)
            watermark = handle.registry.get_sample_value("liqmon_watermark_timestamp_seconds")
    # Assert
    assert got == reference
    # the engine-state gauges read the cross stage's current engine at scrape
    assert shown == engine.window_usd("market", "market", 3600)[0] > 0
    assert watermark == engine.closed_sec


async def test_published_ends_wait_for_the_publishers_last_take(
    recording: Path, kafka_settings: KafkaSettings
) -> None:
    # Arrange: a small in-flight bound, so the publisher is still handing its last take to
    # the producer (waiting for room) when the buffer is already empty
    settings = role_settings(msgspec.structs.replace(kafka_settings, max_in_flight=500))
    total = sum(1 for _ in read_events(recording))
    source = ReplaySource([recording], clock=SimClock())
    async with asyncio.timeout(60):
        async with run_kafka(
            settings, aggregate=False, sources=[source], live=False, serve_http=False
        ) as handle:
            # Act
            ends = await published_ends(handle)
            sent = handle.bus.delivered
    # Assert: the ends count every event of the recording
    assert sent == total
    assert sum(ends.values()) == total


def kcat_records(kafka: KafkaSettings, topic: str) -> list[dict[str, object]]:
    """Read a whole topic with Debian's ``kcat`` (librdkafka, a client no one here wrote)."""
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is missing: scripts/test installs Debian's kcat"
    cmd = [
        kcat, "-C", "-b", kafka.bootstrap_servers, "-t", physical_topic(kafka, topic),
        "-o", "beginning", "-e", "-q", "-J",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]


async def test_kcat_reads_the_alerts_liqmon_published(
    recording: Path, kafka_settings: KafkaSettings
) -> None:
    # Arrange: one aggregate process raised alerts from the recording
    settings = role_settings(kafka_settings)
    async with asyncio.timeout(90):
        ends = await publish(recording, kafka_settings)
        async with aggregator(settings, "g-kcat") as handle:
            await drain([handle], ends, kafka_settings)
            raised = handle.alerts
    # Act
    records = await asyncio.to_thread(kcat_records, kafka_settings, TOPIC_ALERTS)
    # Assert: the wire carries each alert as JSON, keyed by its scope
    assert raised
    payloads = [json.loads(str(r["payload"])) for r in records]
    assert [r["key"] for r in records] == [p["scope"] for p in payloads]
    assert sorted((p["kind"], p["scope"], p["state"], p["ts_ns"]) for p in payloads) == keys(raised)
    assert {p["state"] for p in payloads} <= {"pending", "firing", "resolved"}


async def topic_alerts(kafka: KafkaSettings) -> list[AlertKey]:
    """Return every alert on the alerts topic (what downstream consumers saw)."""
    from monitor.events import TOPIC_ALERTS

    return keys([e for e in await read_topic(kafka, TOPIC_ALERTS) if isinstance(e, Alert)])


async def test_two_aggregate_processes_in_one_group_give_the_memory_alerts(
    recording: Path, kafka_settings: KafkaSettings
) -> None:
    # Arrange
    settings = role_settings(kafka_settings)
    reference = await memory_alerts(recording, settings)
    async with asyncio.timeout(90):
        ends = await publish(recording, kafka_settings)
        # Act
        async with aggregator(settings, "g2") as a, aggregator(settings, "g2") as b:
            await wait_for(lambda: a.bucket.sub.assignment() and b.bucket.sub.assignment(), 30)
            got = await drain([a, b], ends, kafka_settings)
            split = (a.bucket.sub.assignment(), b.bucket.sub.assignment())
        on_topic = await topic_alerts(kafka_settings)
    # Assert
    assert split[0]
    assert split[1]
    assert not split[0] & split[1]
    assert got == reference
    assert on_topic == reference


async def test_killing_one_of_two_aggregates_loses_and_doubles_no_alert(
    recording: Path, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange
    settings = role_settings(kafka_settings)
    reference = await memory_alerts(recording, settings)
    events: list[Event] = list(read_events(recording))
    # Act: the member running the cross stage killed at half the recording's time
    async with asyncio.timeout(180):
        run = await kill_one_of_two(events, settings, (tmp_path / "a", tmp_path / "b"), "g3")
    # Assert
    assert keys(run.alerts) == reference


def alert_lines(path: Path) -> list[AlertKey]:
    """Return the (kind, scope, state, ts) of every alert in a ``--alerts-out`` file."""
    alerts = [e for e in read_events(path) if isinstance(e, Alert)]
    return keys(alerts)


def test_replay_over_kafka_writes_the_memory_replays_alerts(
    recording: Path, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange: the production Kafka settings but the broker
    from monitor.cli import main

    memory_out, kafka_out = tmp_path / "memory.jsonl", tmp_path / "kafka.jsonl"
    assert main(["replay", str(recording), "--quiet", "--alerts-out", str(memory_out)]) == 0
    # Act
    code = main(
        [
            "replay", str(recording), "--quiet", "--bus", "kafka",
            "--kafka-bootstrap", kafka_bootstrap, "--alerts-out", str(kafka_out),
        ]
    )  # fmt: skip
    # Assert
    assert code == 0
    assert alert_lines(memory_out)
    assert alert_lines(kafka_out) == alert_lines(memory_out)
