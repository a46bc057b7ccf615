"""One pipeline, two transports: a recording replayed through Kafka (``liqmon replay --bus
kafka``: ingest, both aggregate stages, a real broker) gives the memory replay's alerts.

The February 2026 scenario raises every kind of alert its world holds (cascades at every
level, contagion, deleveraging, data gaps, liquidity stress, and the margin-hike cascade
that turns critical when the equity perps join); it has no sampled venue, so saturation
is shown on a recording with a saturated Binance stream. A simulated Hawkes day and a real
Binance kline day give the memory replay's alerts too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.events import Alert
from monitor.io.jsonl import read_events
from tests.conftest import KLINES
from tests.support.synth import write_saturated_file

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

Key = tuple[str, str, str, str, int]


def alerts_of(path: Path) -> list[Alert]:
    return [a for a in read_events(path) if isinstance(a, Alert)]


def key(alert: Alert) -> Key:
    """What must be equal: kind, scope, state, severity and event time."""
    return (alert.kind, alert.scope, alert.state, alert.severity, alert.ts_ns)


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
    return alerts_of(memory), alerts_of(kafka)


def hikes(alerts: list[Alert]) -> list[tuple[object, int]]:
    """Return the order of entry and event time of each margin-hike transition."""
    return [
        (a.evidence.get("entered_order"), a.ts_ns)
        for a in alerts
        if a.kind == "margin_hike_cascade"
    ]


@pytest.mark.slow
def test_feb_2026_over_kafka_gives_the_memory_replays_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange
    events = tmp_path / "feb.jsonl"
    assert main(["simulate", "--scenario", "feb-2026", "--seed", "1", "--out", str(events)]) == 0
    # Act
    memory, kafka = replay_both(events, kafka_bootstrap, tmp_path)
    # Assert
    assert [key(a) for a in kafka] == [key(a) for a in memory]
    kinds = {(a.kind, a.state, a.severity) for a in memory}
    assert ("margin_hike_cascade", "firing", "critical") in kinds  # the equities joined
    assert ("liquidity_stress", "firing", "critical") in kinds
    assert {("cascade", "equity"), ("deleveraging", "equity")} <= {
        (a.kind, a.scope) for a in memory
    }
    assert hikes(kafka) == hikes(memory)  # and the order in which the scopes entered


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
    assert [key(a) for a in kafka] == [key(a) for a in memory]
    assert [a.evidence.get("sampled_share") for a in kafka] == [
        a.evidence.get("sampled_share") for a in memory
    ]


@pytest.mark.slow
def test_a_hawkes_recording_over_kafka_gives_the_memory_replays_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange: a day of the simulated Hawkes world, four cascades on a calm background
    events = tmp_path / "hawkes.jsonl"
    argv = ["simulate", "--scenario", "hawkes", "--seed", "3", "--duration-h", "24"]
    assert main([*argv, "--cascades", "4", "--out", str(events)]) == 0
    # Act
    memory, kafka = replay_both(events, kafka_bootstrap, tmp_path)
    # Assert
    assert len({a.alert_id for a in memory if a.kind == "cascade"}) >= 4
    assert [key(a) for a in kafka] == [key(a) for a in memory]


def test_a_kline_day_over_kafka_gives_the_memory_replays_alerts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange: a real Binance 1-minute kline day (LTC, 2026-02-05: two crash waves)
    events = KLINES / "LTCUSDT-1m-2026-02-05.csv.gz"
    # Act
    memory, kafka = replay_both(events, kafka_bootstrap, tmp_path)
    # Assert
    assert [(a.kind, a.scope) for a in memory if a.state == "firing"][:1] == [("cascade", "LTC")]
    assert [key(a) for a in kafka] == [key(a) for a in memory]
