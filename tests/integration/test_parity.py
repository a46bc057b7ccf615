"""One pipeline, two transports: the same recordings give the same alerts every way they go.

The matrix: three recordings — the ``feb-2026`` scenario (seed 1), a simulated Hawkes day
(seed 3, four cascades) and a real Binance kline month (LTCUSDT, February 2026: the three
waves of 2026-02-05/06 and two later falls) — each

a. replayed in memory (``liqmon replay``): the reference;
b. fed to ``liqmon run``'s wiring (`run_app` live: closing idle seconds by the clock, the
   direct sinks, the enqueue timeout) as a live feed on a simulated clock
   (`tests.support.live_feed`);
c. replayed through Kafka with one aggregate (``liqmon replay --bus kafka``);
d. published to Kafka and aggregated by two processes in one group, the one running the
   cross stage killed mid-run, the survivor finishing (`tests.support.kafka_pair`): the
   alerts topic, what downstream consumers see.

b, c and d give a's alerts: the same (kind, scope, state, severity, event time), in the
same order. Each recording is simulated and replayed in memory once (module fixture).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import KafkaSettings
from monitor.events import NS, Alert, event_time_ns
from monitor.replay.source import ReplaySource
from tests.conftest import KLINES
from tests.support.alert_keys import alerts_in, keys
from tests.support.kafka_pair import kill_one_of_two, role_settings
from tests.support.live_feed import run_live

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

SIMULATED = {
    "feb-2026": ["--scenario", "feb-2026", "--seed", "1"],
    "hawkes-day": ["--scenario", "hawkes", "--seed", "3", "--duration-h", "24", "--cascades", "4"],
}
KLINE_MONTH = KLINES / "LTCUSDT-1m-2026-02.csv.gz"


@dataclass(frozen=True)
class Recording:
    """A recording and its memory replay's alerts (the reference)."""

    name: str
    path: Path
    memory: list[Alert]


def hikes(alerts: list[Alert]) -> list[tuple[object, int]]:
    """Return the order of entry and event time of each margin-hike transition."""
    return [
        (a.evidence.get("entered_order"), a.ts_ns)
        for a in alerts
        if a.kind == "margin_hike_cascade"
    ]


@pytest.fixture(scope="module", params=["feb-2026", "hawkes-day", "kline-month"])
def recording(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Recording:
    """Each recording, simulated (or the kline fixture) and replayed in memory once."""
    name: str = request.param
    work = tmp_path_factory.mktemp(name)
    path = KLINE_MONTH
    if name in SIMULATED:
        path = work / ("%s.jsonl" % name)
        assert main(["simulate", *SIMULATED[name], "--out", str(path)]) == 0
    out = work / "memory.jsonl"
    assert main(["replay", str(path), "--quiet", "--alerts-out", str(out)]) == 0
    return Recording(name, path, alerts_in(out))


def test_the_memory_replay_raises_the_recordings_alerts(recording: Recording) -> None:
    # Arrange
    memory = recording.memory
    # Act
    kinds = {(a.kind, a.state, a.severity) for a in memory}
    # Assert: the reference holds what the recording is known for
    if recording.name == "feb-2026":
        assert ("margin_hike_cascade", "firing", "critical") in kinds  # the equities joined
        assert ("liquidity_stress", "firing", "critical") in kinds
        scopes = {(a.kind, a.scope) for a in memory}
        assert {("cascade", "equity"), ("deleveraging", "equity")} <= scopes
    elif recording.name == "hawkes-day":
        assert len({a.alert_id for a in memory if a.kind == "cascade"}) >= 4
    else:  # the three waves of 2026-02-05/06 fire (before Feb 6 17:46), one critical
        early = 1_770_400_000 * NS
        waves = {a.alert_id for a in memory if a.state == "firing" and a.ts_ns < early}
        assert len(waves) == 3
        assert ("cascade", "firing", "critical") in kinds


async def test_run_gives_the_replays_alerts(recording: Recording, tmp_path: Path) -> None:
    # Arrange: the recording as a live feed, the clock moved to each step's next event
    # Act
    alerts, feed = await run_live(recording.path, tmp_path / "state")
    # Assert
    assert keys(alerts) == keys(recording.memory)
    if recording.name == "kline-month":  # 15 s between ticks: the clock closed idle seconds
        assert feed.idle_steps > 1000


def test_one_aggregate_over_kafka_gives_the_replays_alerts(
    recording: Recording, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange
    out = tmp_path / "kafka.jsonl"
    argv = ["replay", str(recording.path), "--quiet", "--bus", "kafka"]
    # Act
    code = main([*argv, "--kafka-bootstrap", kafka_bootstrap, "--alerts-out", str(out)])
    # Assert
    assert code == 0
    kafka = alerts_in(out)
    assert keys(kafka) == keys(recording.memory)
    assert hikes(kafka) == hikes(recording.memory)  # and the order in which scopes entered


async def test_two_aggregates_one_killed_give_the_replays_alerts(
    recording: Recording, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange
    settings = role_settings(kafka_settings)
    events = list(ReplaySource([recording.path], classes=settings.assets.classes).events())
    dirs = (tmp_path / "a", tmp_path / "b")
    # Act: half of the recording's time published, the cross stage's owner killed after
    # closing three quarters of it, the rest published to the survivor
    run = await kill_one_of_two(events, settings, dirs, "parity-" + kafka_settings.topic_prefix)
    # Assert
    assert event_time_ns(events[0]) // NS < run.killed_at_s < run.cut_ns // NS  # mid-run
    assert run.survivor_partitions == 5  # it took over every input partition
    assert keys(run.alerts) == keys(recording.memory)  # none lost, none doubled
