"""The price-crash rule: the absolute test, the own-history test and its rarity evidence."""

import math
import random

import pytest

from monitor.aggregate.detect.crash import detect_crash
from monitor.aggregate.detect.crash_tail import Gumbel, HourlyMaxima
from monitor.aggregate.windows.prices import PriceWindows
from monitor.config import CrashSettings

CRASH = CrashSettings(
    windows_s=(300, 900), min_drop=(0.03, 0.05), z_warning=6.0, z_critical=10.0,
    guard_drop=(0.02, 0.02), prior_z=(50.0, 50.0), prior_sd_1m=0.003, warmup_min=120,
    tail_min_hours=24,
)  # fmt: skip


def feed(prices, start=0, step=15, pw=None):
    pw = pw or PriceWindows((300, 900), half_life_min=1440.0)
    inst = pw.get("binance_usdm:NEAR-USDT-PERP", "NEAR", "crypto")
    sec = start
    for p in prices:
        inst.update(sec, p, p, frozen=False)
        sec += step
    return inst, sec - step


def walk(minutes, sd_1m, seed, start=100.0):
    """A random walk sampled every 15 s: `minutes` minutes with 1-minute sd `sd_1m`."""
    rng = random.Random(seed)
    price, out = start, []
    for _ in range(minutes * 4):
        price *= math.exp(rng.gauss(0.0, sd_1m / 2.0))  # 4 steps of sd/2 → sd per minute
        out.append(price)
    return out


def test_crash_fires_on_a_fast_drop_and_not_on_a_slow_one():
    fast, at = feed([2.0] * 20 + [1.9, 1.85])  # −7.5 % within 30 s
    slow, at_slow = feed([2.0 - 0.0005 * i for i in range(200)])  # −5 % over 50 min

    sig = detect_crash(fast, at, CRASH)

    assert sig is not None
    assert sig.scope == "NEAR"
    assert sig.severity == "critical"  # z = 0.075 / (0.003·√5) ≈ 11
    assert sig.evidence["window_s"] == 300
    assert sig.evidence["test"] == "absolute"
    assert sig.evidence["drawdown"] == pytest.approx(-0.075)
    assert detect_crash(slow, at_slow, CRASH) is None


def test_crash_needs_the_absolute_floor_too():
    calm, at = feed([2.0] * 20 + [1.945])  # −2.75 %: z ≈ 4.1 and under the 3 % floor

    assert detect_crash(calm, at, CRASH) is None


def test_crash_window_high_expires():
    inst, at = feed([2.0] + [1.9] * 30)  # the 2.0 high is 450 s old at the end

    assert inst.window_high(0, at) == 1.9  # gone from the 300 s window
    assert inst.window_high(1, at) == 2.0  # still in the 900 s window


def test_the_same_fall_is_a_crash_for_a_calm_asset_and_not_for_a_wild_one():
    # three days of history each, then the same 2.5 % fall over 10 minutes
    fall = [1.0 - 0.025 * (i + 1) / 40 for i in range(40)]
    calm, _ = feed(walk(3 * 1440, 0.0004, seed=1))
    calm, at = feed([calm.last * f for f in fall], start=calm.second + 15, pw=None or _pw(calm))
    wild, _ = feed(walk(3 * 1440, 0.004, seed=2))
    wild, at_w = feed([wild.last * f for f in fall], start=wild.second + 15, pw=_pw(wild))

    sig = detect_crash(calm, at, CRASH)
    assert sig is not None  # 2.5 % is under both absolute floors: the history decides
    assert sig.evidence["test"] == "own_history"
    assert sig.evidence["history_hours"] >= 24
    assert sig.evidence["return_period_days"] > CRASH.budget_days
    assert str(sig.evidence["rarity"]).endswith("for NEAR")
    assert sig.evidence["rarity"] in sig.summary
    assert detect_crash(wild, at_w, CRASH) is None


def _pw(inst):
    """A PriceWindows holding `inst`, so `feed` continues the same instrument."""
    pw = PriceWindows(inst.windows_s, half_life_min=1440.0)
    pw.instruments[inst.key] = inst
    return pw


def test_long_run_sd_shrugs_off_one_volatile_day():
    quiet, _ = feed(walk(6 * 1440, 0.001, seed=3))
    before = quiet.sd_long()
    quiet, _ = feed(
        walk(1440, 0.01, seed=4, start=quiet.last), start=quiet.second + 15, pw=_pw(quiet)
    )

    assert before == pytest.approx(0.001, rel=0.15)
    assert quiet.sd_long() < 1.5 * before  # the EWMA would have grown several-fold
    assert quiet.sd_1m(0.003, 120) > 3 * before


def test_gumbel_robust_fit_recovers_a_known_gumbel_and_inverts():
    rng = random.Random(5)
    xi, alpha = 2.0, 0.8
    sample = [xi - alpha * math.log(-math.log(rng.random())) for _ in range(5000)]

    fit = Gumbel.robust(sample)

    assert fit is not None
    assert fit.xi == pytest.approx(xi, abs=0.08)
    assert fit.alpha == pytest.approx(alpha, rel=0.08)
    assert fit.period(fit.level(720.0)) == pytest.approx(720.0, rel=1e-6)
    assert fit.period(1e6) == math.inf
    assert Gumbel.robust([1.0] * 10) is None  # flat: no scale


def test_hourly_maxima_keep_one_block_per_hour_and_forget_old_ones():
    hm = HourlyMaxima(n_windows=2, capacity=3)
    for hour in range(5):
        hm.observe(hour, [float(hour), 1.0])
        hm.observe(hour, [0.5, 2.0 + hour])

    assert list(hm.blocks) == [(1.0, 3.0), (2.0, 4.0), (3.0, 5.0)]  # hour 4 still open
    assert hm.fit(0, min_blocks=4) is None
    assert hm.fit(0, min_blocks=3) is not None
