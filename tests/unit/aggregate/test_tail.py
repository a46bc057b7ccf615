"""The budget tail: exponential tail above u, its budget z, return periods and snapshot."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.aggregate.detect.burst_tail import TailEstimator, budget_rate

IDS = np.array([0], dtype=np.int64)
LIVE = np.ones(1, dtype=bool)


def tail(prior_minutes=0.0, half_life=1e12):
    return TailEstimator(2.0, half_life, 0.02, 0.33, prior_minutes)


def test_a_scope_without_history_is_judged_by_the_prior():
    est = tail(prior_minutes=2880.0)
    rate = budget_rate(1.0, 14.0)  # one alert per 14 days of minutes
    expected = 2.0 + 0.33 * math.log(0.02 / rate)
    assert est.threshold(IDS, rate)[0] == pytest.approx(expected)
    assert 3.9 < expected < 4.1  # the prior is a Gaussian z's: about the old fixed z 4


def test_the_budget_z_follows_the_scope_s_own_exponential_tail():
    rng = np.random.default_rng(7)
    est = tail()
    # a heavy tail: 10 % of minutes above u, excesses with mean 1.5 (z units)
    for _ in range(20_000):
        z = 2.0 + rng.exponential(1.5) if rng.random() < 0.1 else rng.uniform(-1, 2)
        est.update(np.array([z]), LIVE)
    p_u, sigma = est.params(IDS)
    assert p_u[0] == pytest.approx(0.1, rel=0.1)
    assert sigma[0] == pytest.approx(1.5, rel=0.1)
    rate = budget_rate(1.0, 14.0)
    bar = est.threshold(IDS, rate)[0]
    assert bar == pytest.approx(2.0 + sigma[0] * math.log(p_u[0] / rate))
    # the tail model says a z at the budget's bar comes once per budget period
    period_days = est.return_period_min(IDS, np.array([bar]))[0] / 1440.0
    assert period_days == pytest.approx(14.0)


def test_a_gap_folds_in_like_as_many_single_minutes():
    one, many = tail(half_life=500.0), tail(half_life=500.0)
    for z in (3.0, 0.5, 4.0):
        one.update(np.array([z]), LIVE)
        many.update(np.array([z]), LIVE)
    for _ in range(300):
        one.update(np.array([2.5]), LIVE)
    many.repeat(np.array([2.5]), LIVE, 300)
    for a, b in zip(one.params(IDS), many.params(IDS), strict=True):
        assert a[0] == pytest.approx(b[0])


def test_frozen_ids_are_left_alone():
    est = tail()
    est.update(np.array([5.0, 5.0]), np.array([True, False]))
    assert est.minutes[:2].tolist() == [1.0, 0.0]
    assert est.over[:2].tolist() == [1.0, 0.0]


def test_the_counts_survive_a_snapshot_and_another_u_is_not_restored():
    est = tail()
    for z in (1.0, 3.0, 6.0):
        est.update(np.array([z]), LIVE)
    copy = tail()
    copy.restore(est.snapshot())
    assert copy.over.tolist() == est.over.tolist()
    assert copy.excess.tolist() == est.excess.tolist()
    other = TailEstimator(3.0, 1e12, 0.02, 0.33, 0.0)
    other.restore(est.snapshot())
    assert other.minutes.size == 0  # left at its prior, nothing half-applied
