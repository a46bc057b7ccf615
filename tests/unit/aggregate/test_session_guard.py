"""Sessions in detection: a weekend freeze of stock perps is not a dead feed nor a crash.

A simulated tape through the engine: ``bitget`` streams only TSLA and NVDA (equity perps,
with quotes and open interest), ``binance_usdm`` streams BTC around the clock and, sampled
(one liquidation a second at most), TSLA's liquidations at the reopening; from Friday
2026-01-09 08:00 New York to Monday. The equity market closes Friday 20:00 and reopens
Sunday 20:00 New York (the template). At the reopening both stocks open 8 % lower, their
quotes are 100× wider for two minutes, open interest falls 12 % in ten minutes while the
price slides 2 % more, and $480k of longs per stock are liquidated in a minute. Three hours
later TSLA has a real cascade. Each test runs the same tape with ``sessions.enabled`` off as
its control, so it shows the rule that would fire without sessions.
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
SETTLED = REOPEN + 600  # sessions.reopen_settle_s
LATER = REOPEN + 3 * 3600  # TSLA's real cascade, OVERNIGHT
END = REOPEN + 6 * 3600
STOCKS = ("TSLA", "NVDA")
TRADFI = {*STOCKS, "equity", "market"}


def tick(exchange, asset, cls, sec, price, *, spread_bps=None, oi_units=None):
    half = None if spread_bps is None else price * spread_bps / 2e4
    return Tick(
        exchange=exchange, symbol="%s-USDT-PERP" % asset, venue_symbol="%sUSDT" % asset,
        asset=asset, asset_class=cls, price=price, ts_event_ns=sec * NS, ts_recv_ns=sec * NS,
        bid=None if half is None else price - half, ask=None if half is None else price + half,
        open_interest_usd=None if oi_units is None else oi_units * price,
    )  # fmt: skip


def liq(exchange, asset, cls, sec, usd, side, n, completeness="exact"):
    return Liquidation(
        exchange=exchange, symbol="%s-USDT-PERP" % asset, venue_symbol="%sUSDT" % asset,
        asset=asset, asset_class=cls, position_side=side, price=1.0, qty=usd, notional_usd=usd,
        ts_event_ns=sec * NS, ts_recv_ns=sec * NS, event_id="%s-%s-%d" % (exchange, asset, n),
        completeness=completeness,
    )  # fmt: skip


def stock(asset, sec, price, rng, n, *, weekend, silent):
    """One stock's bitget events for the 10 s from `sec`; returns (events, next price)."""
    out = []
    if silent[0] <= sec < silent[1]:
        return out, price
    if CLOSE <= sec < REOPEN:  # closed: nothing, or a frozen price quoted 10× wider
        if weekend == "frozen":
            out.append(tick("bitget", asset, "equity", sec + 1, price, spread_bps=20.0,
                            oi_units=1000.0))  # fmt: skip
        return out, price
    if sec == REOPEN:
        price *= 0.92  # the weekend's news, priced in at once
    into = sec - REOPEN
    if 0 <= into < 600:  # the reopening: longs unwound, the price slides 2 % more
        price *= 0.98 ** (10 / 600)
    price *= 1.0 + rng.gauss(0.0, 0.0003)
    oi = 1000.0 * (1.0 - 0.12 * min(max(into, 0), 600) / 600) if into >= 0 else 1000.0
    spread = 200.0 if 0 <= into < 120 else 2.0  # an empty book for two minutes
    out.append(tick("bitget", asset, "equity", sec + 1, price, spread_bps=spread, oi_units=oi))
    if sec % 30 == 0:
        side = "long" if sec % 60 else "short"
        out.append(liq("bitget", asset, "equity", sec + 2, 1_000.0, side, next(n)))
    if 0 <= into < 60 or (asset == "TSLA" and 0 <= sec - LATER < 60):
        for k in range(4):  # the gap liquidates the longs it crosses; later, a real cascade
            out.append(liq("bitget", asset, "equity", sec + 3 + k, 20_000.0, "long", next(n)))
    return out, price


def tape(
    *, weekend: str, silent: tuple[int, int] = (0, 0), btc_cascade: int | None = None
) -> list[Liquidation | Tick]:
    """The two venues' events in time order.

    Args:
        weekend: ``"silent"``: bitget sends nothing while the market is closed;
            ``"frozen"``: it keeps sending each stock at Friday's last price, no liquidations.
        silent: a further [start, end) epoch-second span with nothing from bitget.
        btc_cascade: a minute from this epoch second with $2M of BTC longs liquidated.
    """
    rng = random.Random(7)
    out: list[Liquidation | Tick] = []
    btc = 90_000.0
    prices = dict.fromkeys(STOCKS, 400.0)
    n = itertools.count()
    for sec in range(START, END, 10):
        btc *= 1.0 + rng.gauss(0.0, 0.0005)
        out.append(tick("binance_usdm", "BTC", "crypto", sec, btc))
        if sec % 30 == 0:
            out.append(liq("binance_usdm", "BTC", "crypto", sec, 1_000.0, "long", next(n)))
        if btc_cascade is not None and 0 <= sec - btc_cascade < 60:
            for k in range(5):
                out.append(liq("binance_usdm", "BTC", "crypto", sec + k, 40_000.0, "long", next(n)))
        for asset in STOCKS:
            events, prices[asset] = stock(
                asset, sec, prices[asset], rng, n, weekend=weekend, silent=silent
            )
            out += events
        if REOPEN <= sec < REOPEN + 120:  # a sampled venue: one liquidation a second
            for k in range(10):
                out.append(liq("binance_usdm", "TSLA", "equity", sec + k, 5_000.0, "long",
                               next(n), completeness="sampled"))  # fmt: skip
    out.sort(key=lambda e: e.ts_event_ns)
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


def session_of(alerts):
    return {a.evidence.get("session") for a in alerts}


@pytest.fixture(scope="module")
def silent_weekend():
    events = tape(weekend="silent")
    return run(events, sessions=True), run(events, sessions=False)


@pytest.fixture(scope="module")
def frozen_weekend():
    events = tape(weekend="frozen")
    return run(events, sessions=True), run(events, sessions=False)


def test_a_feed_silent_over_the_weekend_is_not_a_data_gap(silent_weekend):
    with_sessions, without = silent_weekend

    assert fired(without, "data_gap", {"bitget"}) == ["bitget"]  # the control: it would
    assert fired(with_sessions, "data_gap", {"bitget"}) == []


@pytest.mark.parametrize("weekend", ["silent_weekend", "frozen_weekend"])
def test_the_reopening_raises_no_burst_crash_liquidity_saturation_or_deleveraging(weekend, request):
    with_sessions, without = request.getfixturevalue(weekend)
    reopening = {"since": REOPEN, "until": LATER}

    # the controls: every rule would fire at the reopening, on the stocks and the market
    assert fired(without, "cascade", TRADFI, **reopening) == ["NVDA", "TSLA", "equity", "market"]
    assert "TSLA" in fired(without, "liquidity_stress", TRADFI, **reopening)
    assert "TSLA" in fired(without, "deleveraging", TRADFI, **reopening)
    saturated = [a for a in without if a.scope == "TSLA" and "sampled_share" in a.evidence]
    assert saturated
    assert REOPEN * NS <= saturated[0].ts_ns < SETTLED * NS
    assert session_of(a for a in without if a.scope in TRADFI - {"market"}) >= {"OVERNIGHT"}
    for kind in ("cascade", "liquidity_stress", "deleveraging"):
        assert fired(with_sessions, kind, TRADFI, until=LATER) == [], kind
    assert not any("sampled_share" in a.evidence for a in with_sessions)


def test_a_cascade_after_the_reopening_still_fires_and_carries_its_session(silent_weekend):
    with_sessions, _ = silent_weekend
    later = [a for a in with_sessions if a.scope == "TSLA" and a.kind == "cascade"]

    assert later, "a cascade three hours after the reopening is not the reopening's"
    assert all(a.ts_ns >= LATER * NS for a in later)
    assert session_of(later) == {"OVERNIGHT"}


def test_a_closed_market_keeps_its_own_spread_baseline(frozen_weekend):
    with_sessions, without = frozen_weekend
    closing = [
        a for a in without if a.kind == "liquidity_stress" and CLOSE * NS <= a.ts_ns < REOPEN * NS
    ]

    assert closing, "the control takes the closed market's 10x wider quotes for stress"
    assert session_of(closing) == {"NO_TRADING"}
    assert fired(with_sessions, "liquidity_stress", TRADFI) == []


def test_a_frozen_price_over_the_weekend_is_not_a_crash_at_the_reopening(frozen_weekend):
    with_sessions, without = frozen_weekend

    crashes = [a for a in without if a.kind == "cascade" and "drawdown" in a.evidence]
    assert crashes  # the control: Friday's price as the window high
    assert {a.scope for a in crashes} >= {"TSLA"}
    assert fired(with_sessions, "cascade", TRADFI, until=LATER) == []
    assert fired(with_sessions, "data_gap", {"bitget"}) == []


@pytest.fixture(scope="module")
def busy_sunday():
    """A BTC cascade while the stocks settle, and bitget silent for an hour in OVERNIGHT."""
    hush = (REOPEN + 4 * 3600, REOPEN + 5 * 3600)  # Sunday 24:00-01:00 NY
    return run(tape(weekend="silent", silent=hush, btc_cascade=REOPEN + 120), sessions=True), hush


def test_a_crypto_cascade_while_stocks_reopen_still_fires_on_the_market(busy_sunday):
    alerts, _ = busy_sunday

    assert fired(alerts, "cascade", {"BTC", "crypto", "market"}, until=LATER) == [
        "BTC",
        "crypto",
        "market",
    ]
    assert fired(alerts, "cascade", {*STOCKS, "equity"}, until=LATER) == []


def test_a_feed_silent_during_the_session_is_a_data_gap(busy_sunday):
    alerts, hush = busy_sunday

    gaps = [a for a in alerts if a.kind == "data_gap" and a.scope == "bitget"]
    assert gaps, "a feed silent for an hour in a session must raise data_gap"
    assert all(hush[0] * NS < a.ts_ns for a in gaps)
    firing = [a for a in gaps if a.state == "firing"]
    assert firing
    assert firing[0].ts_ns < hush[1] * NS  # while silent, not only after
    assert gaps[-1].state == "resolved"  # flowing again
    assert session_of(gaps) == {"OVERNIGHT"}  # a stock-perp feed's gap says its session
