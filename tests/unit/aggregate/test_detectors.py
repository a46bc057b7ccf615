import dataclasses
import math

import numpy as np
import pytest

from monitor.aggregate.detect.detectors import (
    BurstCandidates,
    burst_triggers,
    detect_bursts,
)
from monitor.config import BurstSettings

CFG = BurstSettings(
    z_warning=4.0, z_critical=6.0, min_side_share=0.75, critical_floor_multiple=5.0,
    cusum_h=8.0, intensity_ratio_warning=10.0, intensity_ratio_critical=50.0, min_events=3,
    intensity_ratio_min=1.0,
)  # fmt: skip


def candidates(long_usd, short_usd, z, floor=1_000_000.0, *, cusum=0.0, ratio=1.0, events=10):
    warm = not math.isnan(z)
    return BurstCandidates(
        scopes=["BTC"], long_usd=np.array([long_usd]), short_usd=np.array([short_usd]),
        events=np.array([float(events)]), floor_usd=np.array([floor]),
        warm=np.array([warm]), z=np.array([z]), baseline_usd=np.array([1000.0]),
        cusum=np.array([cusum]), ratio=np.array([ratio]), rate_per_min=np.array([ratio]),
        base_rate_per_min=np.array([1.0]), window_s=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("long_usd", "short_usd", "z", "expected"),
    [
        (999_999.0, 0.0, 10.0, None),  # just under the floor
        (1_000_000.0, 0.0, 4.0, "warning"),  # floor and z exactly at threshold
        (1_000_000.0, 0.0, 3.99, None),  # z just under
        (750_000.0, 250_000.0, 5.0, "warning"),  # share exactly 0.75
        (740_000.0, 260_000.0, 5.0, None),  # share just under
        (1_000_000.0, 0.0, 6.0, "critical"),  # z critical
        (5_000_000.0, 0.0, 4.5, "critical"),  # 5x the floor
        (2_000_000.0, 0.0, math.nan, "warning"),  # warm-up: floor alone decides
    ],
)
def test_burst_thresholds(long_usd, short_usd, z, expected):
    signals = detect_bursts(candidates(long_usd, short_usd, z), CFG)

    assert [s.severity for s in signals] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("z", "cusum", "ratio", "expected"),
    [
        (0.0, 0.0, 1.0, []),
        (4.0, 0.0, 1.0, ["z"]),
        (0.0, 8.0, 1.0, ["cusum"]),
        (0.0, 7.99, 9.99, []),
        (0.0, 0.0, 10.0, ["hawkes"]),
        (5.0, 9.0, 12.0, ["z", "cusum", "hawkes"]),
    ],
)
def test_any_relative_test_triggers_a_burst_over_the_floor(z, cusum, ratio, expected):
    assert burst_triggers(z, cusum, ratio, CFG) == expected
    signals = detect_bursts(candidates(1_000_000.0, 0.0, z, cusum=cusum, ratio=ratio), CFG)
    assert [s.evidence["triggers"] for s in signals] == ([expected] if expected else [])


def test_a_scope_in_alert_stays_hot_down_to_the_hold_ratio():
    cfg = BurstSettings(
        intensity_ratio_warning=8.0, intensity_ratio_hold=7.0, intensity_ratio_min=3.0
    )
    c = candidates(1e6, 0.0, 0.0, ratio=7.5)
    held = dataclasses.replace(c, held=np.array([True]))

    assert detect_bursts(c, cfg) == []  # a new scope needs 8
    (sig,) = detect_bursts(held, cfg)  # pending or firing: 7 keeps it hot
    assert (sig.evidence["triggers"], sig.evidence["held"]) == (["hawkes"], 1)
    assert detect_bursts(dataclasses.replace(held, ratio=np.array([6.9])), cfg) == []


def test_a_few_prints_are_not_a_cascade():
    assert detect_bursts(candidates(2e6, 0.0, 9.0, events=2), CFG) == []
    assert len(detect_bursts(candidates(2e6, 0.0, 9.0, events=3), CFG)) == 1


def test_intensity_ratio_critical_escalates():
    (sig,) = detect_bursts(candidates(1e6, 0.0, 0.0, ratio=50.0), CFG)
    assert sig.severity == "critical"


def test_burst_evidence_and_summary_name_the_numbers():
    (sig,) = detect_bursts(candidates(900_000.0, 3_100_000.0, 7.25, cusum=2.5, ratio=4.0), CFG)

    assert sig.kind == "cascade"
    assert sig.scope == "BTC"
    assert sig.evidence["liquidated_usd"] == 4_000_000.0
    assert sig.evidence["side_share"] == 0.775
    assert sig.evidence["z"] == 7.25
    assert sig.evidence["cusum"] == 2.5
    assert sig.evidence["intensity_ratio"] == 4.0
    assert sig.evidence["excited_share"] == 0.75  # 1 − μ/λ
    assert sig.evidence["events"] == 10
    assert "78% shorts" in sig.summary
    assert "$4.00M" in sig.summary


def test_warm_up_evidence_has_no_baseline_numbers():
    (sig,) = detect_bursts(candidates(2e6, 0.0, math.nan), CFG)
    assert sig.evidence["triggers"] == ["warm-up floor"]
    assert "z" not in sig.evidence
    assert "warm-up" in sig.summary
