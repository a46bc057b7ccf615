"""One pipeline, two transports: a recording with a saturated sampled stream replayed
through Kafka (``liqmon replay --bus kafka``: ingest, both aggregate stages, a real broker)
gives the memory replay's alerts, saturation evidence included.

The ``feb-2026`` scenario, a Hawkes day and a kline month, through every path (memory,
``run``, Kafka with one and with two aggregates), are in `tests.integration.test_parity`;
none of them has a sampled venue.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.events import Alert
from tests.support.alert_keys import alerts_in, keys
from tests.support.synth import write_saturated_file

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


def replay_both(events: Path, bootstrap: str, tmp_path: Path) -> tuple[list[Alert], list[Alert]]:
    """Replay `events` in memory and through Kafka; return both alert lists."""
    memory, kafka = tmp_path / "memory.jsonl", tmp_path / "kafka.jsonl"
    assert main(["replay", str(events), "--quiet", "--alerts-out", str(memory)]) == 0
    code = main(
        [
            "replay", str(events), "--quiet", "--bus", "kafka",
            "--kafka-bootstrap", bootstrap, "--alerts-out", str(kafka),
        ]
    )  # fmt: skip
    assert code == 0
    return alerts_in(memory), alerts_in(kafka)


def test_a_saturated_sampled_stream_over_kafka_gives_the_memory_replays_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange
    events = write_saturated_file(tmp_path / "saturated.jsonl")
    # Act
    memory, kafka = replay_both(events, kafka_bootstrap, tmp_path)
    # Assert
    saturated = [a for a in memory if a.kind == "cascade" and "saturated" in a.evidence]
    assert [a.state for a in saturated][:2] == ["pending", "firing"]
    assert keys(kafka) == keys(memory)
    assert [a.evidence.get("sampled_share") for a in kafka] == [
        a.evidence.get("sampled_share") for a in memory
    ]
