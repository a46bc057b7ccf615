"""Downside correlation across asset classes: the measure and the per-minute ring."""

import math

import numpy as np

from monitor.aggregate.detect.correlation import MinuteReturns, downside_correlation
from monitor.config import ContagionSettings

T0 = 1_770_249_600


def test_measure_uses_down_minutes_and_cross_class_pairs_only():
    rng = np.random.default_rng(7)
    common = rng.normal(0, 1, 200)
    btc = common + 0.1 * rng.normal(0, 1, 200)
    eth = rng.normal(0, 1, 200)  # same class as BTC: its pair never counts
    xag = common + 0.1 * rng.normal(0, 1, 200)
    returns = np.vstack([btc, eth, xag])
    down = returns.mean(axis=0) < 0
    expected = [
        np.corrcoef(returns[0, down], returns[2, down])[0, 1],
        np.corrcoef(returns[1, down], returns[2, down])[0, 1],
    ]

    found = downside_correlation(returns, ["crypto", "crypto", "metal"], min_minutes=10)

    assert found is not None
    corr, minutes, pairs = found
    assert math.isclose(corr, sum(expected) / 2)
    assert (minutes, pairs) == (int(down.sum()), 2)
    assert downside_correlation(returns, ["crypto", "crypto", "metal"], 500) is None
    assert downside_correlation(returns[:2], ["crypto", "crypto"], 10) is None


def test_missing_minutes_are_dropped():
    returns = np.array([[-1.0, -2.0, 1.0, np.nan], [-1.5, -2.5, 0.5, -9.0]])
    found = downside_correlation(returns, ["crypto", "metal"], min_minutes=2)
    assert found is not None
    assert math.isclose(found[0], 1.0)
    assert found[1] == 2


def test_minute_returns_roll_and_baseline_lags_one_minute():
    cfg = ContagionSettings(
        corr_assets=("BTC", "XAG"), corr_lookback_min=5, corr_min_minutes=2,
        corr_baseline_half_life_min=1.0,
    )  # fmt: skip
    ring = MinuteReturns(cfg)
    prices = [(100.0, 50.0), (99.0, 49.0), (97.0, 48.0), (98.0, 48.5), (95.0, 47.0)]
    for minute, (btc, xag) in enumerate(prices):
        ring.roll(T0 + 60 * minute, frozen=False)
        ring.price("bybit:BTC", "BTC", "crypto", btc)
        ring.price("okx:BTC", "BTC", "crypto", 1.0)  # a second venue does not price BTC
        ring.price("bybit:XAG", "XAG", "metal", xag)
        ring.price("bybit:DOGE", "DOGE", "crypto", 1.0)  # untracked
    ring.roll(T0 + 300, frozen=False)

    r_btc = np.diff(np.log([p[0] for p in prices]))
    r_xag = np.diff(np.log([p[1] for p in prices]))
    down = (r_btc + r_xag) / 2 < 0
    assert ring.current is not None
    assert math.isclose(ring.current.corr, np.corrcoef(r_btc[down], r_xag[down])[0, 1])
    assert ring.current.minutes == int(down.sum())
    assert not math.isnan(ring.current.baseline)  # earlier minutes gave one
