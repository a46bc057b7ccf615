"""One short simulated Hawkes cascade, replayed and scored: the burst detector finds it fast."""

from __future__ import annotations

import pytest

from monitor import config
from monitor.evaluation import replay_recording
from monitor.evaluation.scoring import Rules, score
from monitor.simulate.command import write_events
from monitor.simulate.scenarios import SimParams, simulate

pytestmark = pytest.mark.slow
SETTINGS = config.load(None, env={})  # the default floors and detector parameters


@pytest.mark.parametrize("branching", [0.7, 0.9])
def test_a_short_hawkes_cascade_is_detected_within_a_minute_or_two(tmp_path, branching):
    params = SimParams(
        "hawkes", seed=3, duration_s=4 * 3600.0, tick_s=30.0, branching=branching,
        cascades=1, assets=("BTC",), classes=SETTINGS.assets.classes,
    )  # fmt: skip
    events, labels = simulate(params)
    path = tmp_path / "hawkes.jsonl"
    write_events(path, events)

    rec = replay_recording(SETTINGS, path)
    report = score([rec], labels, SETTINGS.assets.classes, Rules())

    (result,) = report.labels
    assert result.detected
    assert report.recall == 1.0
    assert result.delay_s is not None
    assert (
        -60.0 <= result.delay_s <= 120.0
    )  # onset: the first minute above the calm 1-in-1-day level
    assert report.false_alarms == 0
