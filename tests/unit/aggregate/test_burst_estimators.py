"""The burst detector's estimators: CUSUM, hour-of-week baselines, Hawkes intensity ratio."""

import calendar
import math

import numpy as np
import pytest

from monitor.aggregate.detect.baseline import EwmaBaseline
from monitor.aggregate.detect.cusum import cusum_repeat, cusum_step
from monitor.aggregate.detect.intensity import ExcitationRate
from monitor.aggregate.detect.seasonal import SeasonalBaseline, hour_of_week


def test_cusum_accumulates_a_sustained_shift_and_floors_at_zero():
    zs = [0.2, 1.5, 1.5, -3.0, 2.0, 2.0, 2.0]
    s, expected = np.zeros(1), []
    ref = 0.0
    for z in zs:
        ref = max(0.0, ref + z - 0.5)  # Page's recursion, by hand
        expected.append(ref)
        s = cusum_step(s, np.array([z]), 0.5)
        assert s[0] == pytest.approx(ref)
    assert expected == pytest.approx([0.0, 1.0, 2.0, 0.0, 1.5, 3.0, 4.5])


@pytest.mark.parametrize("z", [-0.7, 0.3, 1.2])
def test_cusum_repeat_equals_repeated_steps(z):
    s = np.array([0.0, 3.0, 20.0])
    stepped = s.copy()
    for _ in range(17):
        stepped = cusum_step(stepped, np.full(3, z), 0.5)
    np.testing.assert_allclose(cusum_repeat(s, np.full(3, z), 0.5, 17), stepped)


def test_hour_of_week_starts_monday_midnight_utc():
    def minute(text):
        return calendar.timegm(__import__("time").strptime(text, "%Y-%m-%dT%H:%M")) // 60

    assert hour_of_week(minute("2026-01-05T00:00")) == 0  # a Monday
    assert hour_of_week(minute("2026-01-05T13:59")) == 13
    assert hour_of_week(minute("2026-01-07T05:30")) == 2 * 24 + 5  # Wednesday
    assert hour_of_week(minute("2026-01-11T23:00")) == 167  # Sunday
    assert hour_of_week(minute("2026-01-12T00:00")) == 0


def test_ewma_baseline_starts_as_a_running_mean():
    b = EwmaBaseline(half_life=1000.0, ref=1.0, min_sd=10.0)  # no clipping
    xs = [1.0, 3.0, 2.0]
    for x in xs:
        b.update(np.array([math.expm1(x)]))
    assert b.mean[0] == pytest.approx(2.0)  # mean of the log values, no bias toward 0


def test_seasonal_blends_bucket_and_global_by_bucket_count():
    prior = 10.0
    s = SeasonalBaseline(1e6, 1e6, prior, ref=1.0, min_sd=10.0)  # no clipping
    quiet, busy = 3, 4  # two hour-of-week buckets
    for _ in range(30):
        s.update(np.array([math.expm1(1.0)]), quiet)  # x = 1 in the quiet hour
    for _ in range(10):
        s.update(np.array([math.expm1(3.0)]), busy)  # x = 3 in the busy hour
    # independent computation: near-running means (half-lives 1e6)
    glob = (30 * 1.0 + 10 * 3.0) / 40
    ids = np.array([0])
    m_busy, _ = s.mean_sd(ids, busy)
    w = 10 / (10 + prior)
    assert m_busy[0] == pytest.approx(w * 3.0 + (1 - w) * glob, rel=1e-4)
    m_quiet, _ = s.mean_sd(ids, quiet)
    w = 30 / (30 + prior)
    assert m_quiet[0] == pytest.approx(w * 1.0 + (1 - w) * glob, rel=1e-4)
    unseen, _ = s.mean_sd(ids, 100)
    assert unseen[0] == pytest.approx(glob, rel=1e-4)  # the prior alone
    # a busy-hour value is less surprising in the busy hour than in the quiet one
    v = np.array([math.expm1(3.0)])
    assert s.z(ids, v, busy)[0] < s.z(ids, v, quiet)[0]


def test_seasonal_frozen_scopes_do_not_learn():
    s = SeasonalBaseline(60.0, 60.0, 10.0, ref=1.0, min_sd=0.01)
    s.update(np.array([1.0, 1.0]), 0)
    before = (s.glob.mean.copy(), s.mean[:2, 0].copy(), s.count[:2, 0].copy())
    s.update(np.array([1000.0, 1000.0]), 0, frozen=np.array([True, False]))
    assert s.glob.mean[0] == before[0][0]
    assert s.mean[0, 0] == before[1][0]
    assert s.count[0, 0] == before[2][0]
    assert s.glob.mean[1] > before[0][1]
    assert s.count[1, 0] == 2


def test_intensity_is_an_exponentially_decayed_count():
    tau = 30.0
    r = ExcitationRate(tau, half_life_min=1e6, min_rate_per_min=0.01)
    arrivals = {100: 2.0, 110: 1.0, 150: 4.0}
    for sec, n in arrivals.items():
        r.add(sec, np.array([0]), np.array([n]))
    at = 170
    expected = sum(n * math.exp(-(at - sec) / tau) for sec, n in arrivals.items()) / tau
    assert r.intensity(np.array([0]), at)[0] == pytest.approx(expected)


def test_intensity_ratio_against_the_baseline_rate():
    r = ExcitationRate(60.0, half_life_min=1e6, min_rate_per_min=0.5)
    for n in [2.0, 4.0, 3.0]:  # events per minute
        r.update_baseline(np.array([n, 0.0]))
    base = r.baseline(np.array([0, 1]))
    assert base[0] * 60 == pytest.approx(3.0, rel=1e-4)  # running mean of the counts
    assert base[1] * 60 == pytest.approx(0.5)  # the floor (prior) for a quiet scope
    r.add(1000, np.array([0]), np.array([60.0]))
    ratio = r.intensity(np.array([0]), 1000)[0] / base[0]
    assert ratio == pytest.approx((60.0 / 60.0) / (3.0 / 60.0), rel=1e-4)  # 20×
    frozen = np.array([True, False])
    r.update_baseline(np.array([600.0, 600.0]), frozen)
    assert r.baseline(np.array([0]))[0] == base[0]


def test_a_burst_of_usd_without_a_burst_of_liquidations_is_not_a_cascade():
    from monitor.aggregate.detect.detectors import BurstCandidates, detect_bursts
    from monitor.config import BurstSettings

    cfg = BurstSettings()

    def one(ratio: float) -> BurstCandidates:
        def a(x: float) -> np.ndarray:
            return np.array([x])

        return BurstCandidates(
            scopes=["BTC"], long_usd=a(2e6), short_usd=a(0.0), events=a(5.0),
            floor_usd=a(1e5), warm=np.array([True]), z=a(6.0), baseline_usd=a(1e4),
            cusum=a(0.0), ratio=a(ratio), rate_per_min=a(ratio), base_rate_per_min=a(1.0),
            window_s=60,
        )  # fmt: skip

    assert detect_bursts(one(cfg.intensity_ratio_min * 0.99), cfg) == []  # whale prints
    (signal,) = detect_bursts(one(cfg.intensity_ratio_min), cfg)
    assert signal.evidence["triggers"] == ["z"]
