"""Sessions in detection: a weekend freeze of a stock perp is not a dead feed nor a crash.

A simulated tape through the engine: ``bitget`` streams only TSLA (an equity perp),
``binance_usdm`` streams BTC around the clock, from Friday 2026-01-09 08:00 New York to
Monday. The equity market closes Friday 20:00 and reopens Sunday 20:00 New York (the
template). At the reopening TSLA opens 8 % lower and $400k of longs are liquidated in a
minute. Each test runs the same tape with ``sessions.enabled`` off as its control, so it
shows the rule that would fire without sessions.
"""

import datetime as dt
import itertools
import random

import pytest

from monitor.aggregate.engine import Engine
from monitor.config import load
from monitor.events import Alert, Liquidation, Tick

NS = 1_000_000_000
START = int(dt.datetime(2026, 1, 9, 13, 0, tzinfo=dt.UTC).timestamp())  # Fri 08:00 NY
CLOSE = int(dt.datetime(2026, 1, 10, 1, 0, tzinfo=dt.UTC).timestamp())  # Fri 20:00 NY
REOPEN = int(dt.datetime(2026, 1, 12, 1, 0, tzinfo=dt.UTC).timestamp())  # Sun 20:00 NY
END = REOPEN + 6 * 3600


def tick(exchange, asset, cls, sec, price):
    return Tick(
        exchange=exchange, symbol="%s-USDT-PERP" % asset, venue_symbol="%sUSDT" % asset,
        asset=asset, asset_class=cls, price=price, ts_event_ns=sec * NS, ts_recv_ns=sec * NS,
    )  # fmt: skip


def liq(exchange, asset, cls, sec, usd, side, n):
    return Liquidation(
        exchange=exchange, symbol="%s-USDT-PERP" % asset, venue_symbol="%sUSDT" % asset,
        asset=asset, asset_class=cls, position_side=side, price=1.0, qty=usd, notional_usd=usd,
        ts_event_ns=sec * NS, ts_recv_ns=sec * NS, event_id="%s-%s-%d" % (exchange, asset, n),
    )  # fmt: skip


def tape(*, weekend: str, silent: tuple[int, int] = (0, 0)) -> list[Liquidation | Tick]:
    """The two venues' events in time order.

    Args:
        weekend: ``"silent"``: bitget sends nothing while the market is closed;
            ``"frozen"``: it keeps sending TSLA at Friday's last price, and no liquidations.
        silent: a further [start, end) epoch-second span with nothing from bitget.
    """
    rng = random.Random(7)
    out: list[Liquidation | Tick] = []
    btc, tsla = 90_000.0, 400.0
    n = itertools.count()
    for sec in range(START, END, 10):
        btc *= 1.0 + rng.gauss(0.0, 0.0005)
        out.append(tick("binance_usdm", "BTC", "crypto", sec, btc))
        if sec % 30 == 0:
            out.append(liq("binance_usdm", "BTC", "crypto", sec, 1_000.0, "long", next(n)))
        closed = CLOSE <= sec < REOPEN
        if silent[0] <= sec < silent[1] or (closed and weekend == "silent"):
            continue
        if closed:
            out.append(tick("bitget", "TSLA", "equity", sec + 1, tsla))  # frozen
            continue
        if sec == REOPEN:
            tsla *= 0.92  # the weekend's news, priced in at once
        tsla *= 1.0 + rng.gauss(0.0, 0.0003)
        out.append(tick("bitget", "TSLA", "equity", sec + 1, tsla))
        if sec % 30 == 0:
            side = "long" if sec % 60 else "short"
            out.append(liq("bitget", "TSLA", "equity", sec + 2, 1_000.0, side, next(n)))
        if REOPEN <= sec < REOPEN + 60:  # the reopening gap liquidates the longs it crosses
            for k in range(4):
                out.append(liq("bitget", "TSLA", "equity", sec + 3 + k, 20_000.0, "long", next(n)))
    return out


def run(events, *, sessions: bool) -> list[Alert]:
    engine = Engine(
        load(
            None,
            env={},
            overrides={"sessions.enabled": sessions, "detect.lifecycle.resolve_after_s": 60},
        )
    )
    alerts: list[Alert] = []
    for i in range(0, len(events), 500):
        alerts += engine.process(events[i : i + 500])
    alerts += engine.flush()
    if sessions:
        assert engine.guard.held > 0 or not any(a.scope == "TSLA" for a in alerts)
    return alerts


def fired(alerts, kind, scopes, since=START, until=END):
    return sorted(
        {
            a.scope
            for a in alerts
            if a.kind == kind and a.scope in scopes and since * NS <= a.ts_ns < until * NS
        }
    )


@pytest.fixture(scope="module")
def silent_weekend():
    events = tape(weekend="silent")
    return run(events, sessions=True), run(events, sessions=False)


def test_a_feed_silent_over_the_weekend_is_not_a_data_gap(silent_weekend):
    with_sessions, without = silent_weekend

    assert fired(without, "data_gap", {"bitget"}) == ["bitget"]  # the control: it would
    assert fired(with_sessions, "data_gap", {"bitget"}) == []


def test_the_reopening_gap_and_its_liquidations_raise_no_burst_or_crash(silent_weekend):
    with_sessions, without = silent_weekend
    tradfi = {"TSLA", "equity"}

    assert fired(without, "cascade", tradfi, since=REOPEN) == ["TSLA", "equity"]
    assert fired(with_sessions, "cascade", tradfi) == []


def test_a_frozen_price_over_the_weekend_is_not_a_crash_at_the_reopening():
    events = tape(weekend="frozen")
    without = run(events, sessions=False)
    with_sessions = run(events, sessions=True)

    crashes = [a for a in without if a.kind == "cascade" and "drawdown" in a.evidence]
    assert crashes  # the control: Friday's price as the window high
    assert crashes[0].scope == "TSLA"
    assert fired(with_sessions, "cascade", {"TSLA", "equity"}) == []
    assert fired(with_sessions, "data_gap", {"bitget"}) == []


def test_a_feed_silent_during_the_session_is_a_data_gap():
    hush = (REOPEN + 4 * 3600, REOPEN + 5 * 3600)  # Sunday 24:00-01:00 NY: OVERNIGHT
    alerts = run(tape(weekend="silent", silent=hush), sessions=True)

    gaps = [a for a in alerts if a.kind == "data_gap" and a.scope == "bitget"]
    assert gaps, "a feed silent for an hour in a session must raise data_gap"
    assert all(hush[0] * NS < a.ts_ns for a in gaps)
    firing = [a for a in gaps if a.state == "firing"]
    assert firing
    assert firing[0].ts_ns < hush[1] * NS  # while silent, not only after
    assert gaps[-1].state == "resolved"  # flowing again
