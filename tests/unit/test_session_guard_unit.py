"""`SessionGuard`: closed, settling and reopened, per market, instrument and scope."""

import datetime as dt

from monitor.aggregate.detect.gaps import StreamGaps
from monitor.aggregate.windows.prices import PriceWindows
from monitor.aggregate.windows.scopes import ScopeIndex
from monitor.config.gaps import DataGapSettings
from monitor.sessions.calendar import Session, SessionCalendar
from monitor.sessions.guard import SessionGuard
from monitor.sessions.settings import SessionSettings

NS = 1_000_000_000
REOPEN = int(dt.datetime(2026, 1, 12, 1, 0, tzinfo=dt.UTC).timestamp())  # Sun 20:00 NY


def guard(**cfg):
    return SessionGuard(SessionCalendar(), SessionSettings(**cfg), {"TSLA": "equity"})


def test_settling_lasts_reopen_settle_s_after_no_trading_ends():
    g = guard(reopen_settle_s=600)

    assert g.closed("EQUITY", (REOPEN - 1) * NS)
    assert not g.closed("EQUITY", REOPEN * NS)
    assert [g.settling("EQUITY", (REOPEN + s) * NS) for s in (0, 599, 600)] == [
        True,
        True,
        False,
    ]
    assert not g.quiet("CRYPTO", (REOPEN - 1) * NS)
    assert not guard(reopen_settle_s=0).settling("EQUITY", REOPEN * NS)
    assert not guard(enabled=False).closed("EQUITY", (REOPEN - 1) * NS)


def test_a_published_session_and_the_override_decide():
    cal = SessionCalendar()
    g = SessionGuard(cal, SessionSettings(markets={"bitget:XAU-USDT-PERP": "CRYPTO"}), {})
    noon = REOPEN + 16 * 3600  # Monday 12:00 NY: REGULAR by the template
    assert not g.closed("EQUITY", noon * NS)
    cal.add("EQUITY", [Session(noon * NS, (noon + 3600) * NS, "NO_TRADING")])  # a holiday

    assert g.closed("EQUITY", noon * NS)  # the cache follows the calendar's version
    assert g.market("bitget:XAU-USDT-PERP", "XAU", "metal") == "CRYPTO"
    assert g.market("bybit:XAU-USDT-PERP", "XAU", "metal") == "COMMODITY"


def test_the_first_price_after_a_reopening_restarts_the_windows():
    g = guard()
    state = PriceWindows((300,), 1440.0).get("bitget:TSLA-USDT-PERP", "TSLA", "equity")
    state.update(REOPEN - 3600, 400.0, 400.0, frozen=True)

    assert g.price_step(state, REOPEN + 5)  # settling: frozen
    assert not state.highs[0]
    state.update(REOPEN + 5, 368.0, 368.0, frozen=True)
    assert state.window_high(0, REOPEN + 5) == 368.0  # Friday's 400 is gone
    assert not g.price_step(state, REOPEN + 3600)


def test_scope_masks_follow_each_scopes_market():
    scopes = ScopeIndex()
    ids = [
        scopes.id_of("asset", "TSLA"),
        scopes.id_of("class", "equity"),
        scopes.id_of("asset", "BTC"),
        scopes.id_of("market", "market"),
    ]
    mask = guard().scope_mask(scopes)

    assert mask((REOPEN - 60) // 60, 4)[ids].tolist() == [True, True, False, False]
    assert not mask((REOPEN + 3600) // 60, 4).any()


def test_stream_markets_survive_a_snapshot():
    gaps = StreamGaps(DataGapSettings(), guard())
    gaps.markets[("bitget", "prices")] = {"EQUITY"}
    again = StreamGaps(DataGapSettings(), guard())
    again.restore(gaps.snapshot())

    assert again.markets == {("bitget", "prices"): {"EQUITY"}}
    old = gaps.snapshot()
    del old["markets"]  # a state file from before sessions
    again.restore(old)
    assert again.markets == {}


def test_the_market_scope_is_held_while_settling_markets_carry_half_its_usd():
    usd = {("market", "market"): 100.0, ("class", "equity"): 60.0, ("class", "crypto"): 40.0}

    def window_usd(level, key, window_s):
        assert window_s == 60
        return (usd.get((level, key), 0.0), 0.0)

    g = SessionGuard(SessionCalendar(), SessionSettings(), {}, window_usd, 60)
    assert g.market_held((REOPEN + 30) * NS)
    assert g.scope_quiet("market", (REOPEN + 30) * NS)
    assert g.scope_quiet("equity", (REOPEN - 30) * NS)  # closed
    assert not g.scope_quiet("crypto", (REOPEN + 30) * NS)
    assert not g.market_held((REOPEN + 3600) * NS)  # settled
    assert not g.market_held((REOPEN - 60) * NS)  # closed, not reopening
    usd[("class", "equity")], usd[("class", "crypto")] = 40.0, 60.0  # a crypto cascade
    assert not g.market_held((REOPEN + 30) * NS)

    scopes = ScopeIndex()
    market = scopes.id_of("market", "market")
    usd[("class", "equity")] = 90.0
    assert g.scope_mask(scopes)(REOPEN // 60, 1)[market]
    assert not g.scope_mask(scopes)((REOPEN + 3600) // 60, 1)[market]
