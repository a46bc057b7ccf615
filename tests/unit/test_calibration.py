"""Crash-calibration scoring on synthetic prices: falls, caught-before-low and false alarms."""

from __future__ import annotations

import pytest

from monitor.evaluation.calibration import calibrate
from monitor.evaluation.labels import Label
from monitor.evaluation.moves import MINUTE_NS, MinutePrices, fall
from monitor.evaluation.scoring import Recording
from monitor.events import Alert

T0 = 1_700_000_000 // 60 * 60 * 1_000_000_000  # a whole minute, epoch ns
DAY_MIN = 1440


def at(minute: int) -> int:
    return T0 + minute * MINUTE_NS


def prices(drops: dict[int, float], minutes: int = 7 * DAY_MIN) -> MinutePrices:
    """Flat at 100 except `drops`: minute → fall (0.10 = the low is 10 % under 100)."""
    out = MinutePrices("binance_usdm:X-USDT-PERP")
    for m in range(minutes):
        out.add(at(m), 100.0)
        out.add(at(m) + 30 * 10**9, 100.0 * (1.0 - drops.get(m, 0.0)))
    return out


def alert(state: str, minute: float, scope: str = "X") -> Alert:
    ts = T0 + round(minute * MINUTE_NS)
    return Alert(
        alert_id="a%s%d" % (scope, round(minute)),
        kind="cascade",
        scope=scope,
        state=state,  # type: ignore[arg-type]
        severity="warning",
        wave=1,
        started_ns=ts,
        ts_ns=ts,
        summary="",
        evidence={},
    )


def test_fall_is_the_deepest_drop_from_the_lookback_high():
    series = prices({100: 0.04, 103: 0.06})

    assert fall(series, at(100), at(110), 60) == pytest.approx(0.06)
    assert fall(series, at(100), at(101), 60) == pytest.approx(0.04)
    assert fall(series, at(200), at(210), 60) == pytest.approx(0.0)
    assert fall(series, at(99_999), at(100_000), 60) is None  # no price there


def test_alert_smaller_than_the_smallest_crash_is_false_and_a_larger_one_is_not():
    # A labelled 10 % crash at minute 1000 (low at 1005); outside it, a 3 % dip and a 12 % drop.
    series = prices({1005: 0.10, 3000: 0.03, 6000: 0.12})
    label = Label("crash", "X", at(1000), at(1005), at(1030))
    alerts = [
        alert("firing", 1003), alert("resolved", 1020),  # caught 2 minutes before the low
        alert("firing", 3000), alert("resolved", 3011),  # moved 3 %: false
        alert("firing", 6000), alert("resolved", 6011),  # moved 12 %: not false
    ]  # fmt: skip
    rec = Recording("x.csv", alerts, at(0), at(7 * DAY_MIN - 1), {"X": "crypto"}, {"X": series})

    cal = calibrate([rec], [label], {})

    [row] = cal.rows
    [crash] = row.crashes
    assert crash.caught
    assert crash.lead_s == pytest.approx(120.0)
    assert crash.size == pytest.approx(0.10)
    assert cal.smallest == pytest.approx(0.10)
    verdicts = [(round(o.fall or 0, 3), o.false) for o in row.outside]
    assert verdicts == [(0.03, True), (0.12, False)]
    assert row.false_alarms == 1
    assert row.false_per_week == pytest.approx(1.0, rel=0.01)  # one false in ~7 days
    assert row.worst_week == 1
    assert cal.passed


def test_firing_after_the_low_is_not_caught_and_fails():
    series = prices({1005: 0.10})
    label = Label("crash", "X", at(1000), at(1005), at(1030))
    rec = Recording(
        "x.csv",
        [alert("firing", 1007), alert("resolved", 1020)],
        at(0),
        at(DAY_MIN),
        {"X": "crypto"},
        {"X": series},
    )

    cal = calibrate([rec], [label], {})

    [crash] = cal.rows[0].crashes
    assert crash.fired_ns == at(1007)
    assert not crash.caught
    assert not cal.passed


def test_two_false_alarms_in_a_week_fail_the_mark():
    series = prices({1005: 0.10, 3000: 0.02, 5000: 0.02})
    label = Label("crash", "X", at(1000), at(1005), at(1030))
    alerts = [
        alert("firing", 1003), alert("resolved", 1020),
        alert("firing", 3000), alert("resolved", 3011),
        alert("firing", 5000), alert("resolved", 5011),
    ]  # fmt: skip
    rec = Recording("x.csv", alerts, at(0), at(7 * DAY_MIN - 1), {"X": "crypto"}, {"X": series})

    cal = calibrate([rec], [label], {})

    assert cal.rows[0].false_alarms == 2
    assert cal.rows[0].worst_week == 2
    assert not cal.passed
