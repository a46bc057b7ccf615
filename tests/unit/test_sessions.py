"""TradFi market sessions: the weekly template (New York hours, DST) and Binance's schedule."""

import datetime as dt

import pytest

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.config import load
from monitor.errors import ParseError
from monitor.runtime.kafka.cross_state import _CrossPart
from monitor.sessions.binance import parse_schedule, parse_update
from monitor.sessions.calendar import Session, SessionCalendar, market_of, template_session
from monitor.state.snapshot import RESTORE_ERRORS, RestoreError

NS = 1_000_000_000

# The documented tradingSchedule example (Binance USDⓈ-M "Trading Schedule").
SCHEDULE = (
    b'{"updateTime":1761286643918,"marketSchedules":{"EQUITY":{"sessions":['
    b'{"startTime":1761177600000,"endTime":1761206400000,"type":"OVERNIGHT"},'
    b'{"startTime":1761206400000,"endTime":1761226200000,"type":"PRE_MARKET"}]},'
    b'"COMMODITY":{"sessions":['
    b'{"startTime":1761724800000,"endTime":1761744600000,"type":"NO_TRADING"},'
    b'{"startTime":1761744600000,"endTime":1761768000000,"type":"REGULAR"}]}}}'
)
# The documented tradingSession push.
UPDATE = (
    b'{"e":"EquityUpdate","E":1765244143062,"t":1765242000000,"T":1765270800000,"S":"OVERNIGHT"}'
)


def _ns(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp()) * NS


@pytest.mark.parametrize(
    ("utc", "equity", "commodity"),
    [
        ("2026-01-12T15:00:00+00:00", "REGULAR", "REGULAR"),  # Monday 10:00 EST
        ("2026-01-12T13:45:00+00:00", "PRE_MARKET", "REGULAR"),  # 08:45 EST
        ("2026-07-13T13:45:00+00:00", "REGULAR", "REGULAR"),  # 09:45 EDT: DST moves it
        ("2026-01-12T23:30:00+00:00", "AFTER_MARKET", "REGULAR"),  # 18:30 EST
        ("2026-01-12T22:05:00+00:00", "AFTER_MARKET", "NO_TRADING"),  # 17:05: CME's hour
        ("2026-01-13T06:00:00+00:00", "OVERNIGHT", "REGULAR"),  # Tuesday 01:00 EST
        ("2026-01-17T12:00:00+00:00", "NO_TRADING", "NO_TRADING"),  # Saturday
        ("2026-01-16T22:30:00+00:00", "AFTER_MARKET", "NO_TRADING"),  # Friday 17:30
        ("2026-01-17T01:30:00+00:00", "NO_TRADING", "NO_TRADING"),  # Friday 20:30 EST
        ("2026-01-18T23:30:00+00:00", "NO_TRADING", "REGULAR"),  # Sunday 18:30 EST
        ("2026-01-19T01:30:00+00:00", "OVERNIGHT", "REGULAR"),  # Sunday 20:30 EST
    ],
)
def test_the_template_follows_new_york_hours(utc: str, equity: str, commodity: str) -> None:
    ts = _ns(utc)
    assert (template_session("EQUITY", ts), template_session("COMMODITY", ts)) == (
        equity,
        commodity,
    )
    assert template_session("CRYPTO", ts) == "REGULAR"


def test_asset_classes_map_to_markets() -> None:
    assert [market_of(c) for c in ("equity", "index", "metal", "energy", "crypto", "fx")] == [
        "EQUITY",
        "EQUITY",
        "COMMODITY",
        "COMMODITY",
        "CRYPTO",
        "CRYPTO",
    ]


def test_a_published_schedule_wins_over_the_template() -> None:
    cal = SessionCalendar()
    for market, sessions in parse_schedule(SCHEDULE).items():
        cal.add(market, sessions)
    # 2025-10-30 13:00 UTC is a Thursday commodity REGULAR by the template; published NO_TRADING
    ts = 1761744600000 * 1_000_000 - 3600 * NS
    assert template_session("COMMODITY", ts) == "REGULAR"
    assert cal.session_at("COMMODITY", ts) == "NO_TRADING"
    assert not cal.is_open("COMMODITY", ts)
    assert cal.session_at("EQUITY", 1761206400000 * 1_000_000) == "PRE_MARKET"  # start inclusive
    # outside every published session: the template again
    late = 1761768000000 * 1_000_000 + 3600 * NS
    assert cal.session_at("COMMODITY", late) == template_session("COMMODITY", late)


def test_a_stream_update_replaces_what_it_overlaps() -> None:
    cal = SessionCalendar()
    cal.add(
        "EQUITY",
        [Session(0 * NS + 1, 100 * NS, "REGULAR"), Session(100 * NS, 200 * NS, "AFTER_MARKET")],
    )
    market, session = parse_update(UPDATE)
    assert (market, session.type) == ("EQUITY", "OVERNIGHT")
    cal.add("EQUITY", [Session(50 * NS, 150 * NS, "NO_TRADING")])
    assert [s.type for s in cal.published["EQUITY"]] == ["NO_TRADING"]
    assert cal.session_at("EQUITY", 60 * NS) == "NO_TRADING"


@pytest.mark.parametrize(
    "payload",
    [
        b"{}",
        b'{"marketSchedules":{"EQUITY":{"sessions":[{"startTime":5,"endTime":1,"type":"REGULAR"}]}}}',
        b'{"marketSchedules":{"EQUITY":{"sessions":[{"startTime":1,"endTime":5,"type":"LUNCH"}]}}}',
        b"not json",
    ],
)
def test_a_bad_schedule_is_a_parse_error(payload: bytes) -> None:
    with pytest.raises(ParseError, match="binance"):
        parse_schedule(payload)


def test_an_unknown_stream_event_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unknown event"):
        parse_update(UPDATE.replace(b"EquityUpdate", b"CryptoUpdate"))


def test_a_calendar_outlives_the_engines_built_on_it():
    """The Kafka cross stage rebuilds its engine (a rebalance, a state that does not fit);
    the calendar its session sources feed must stay the one the new engine reads."""
    settings = load(None, env={})
    calendar = SessionCalendar()
    noon = _ns("2026-03-03T12:00:00-05:00")  # a Tuesday: REGULAR by the template
    calendar.add("EQUITY", [Session(noon - 3600 * NS, noon + 3600 * NS, "NO_TRADING")])
    engine = Engine(settings, sessions=calendar)
    assert engine.sessions is calendar
    assert engine.guard.closed("EQUITY", noon)

    part = _CrossPart("windows", engine, SummaryMerger(engine, []), kept=(0, 10))
    with pytest.raises((RestoreError, *RESTORE_ERRORS)):
        part.restore({"topic": "windows", "position": 0, "engine": {"bad": 1}, "merger": {}})
    assert engine.sessions is calendar  # reset to a clean engine, on the same calendar
    assert engine.guard.closed("EQUITY", noon)
    assert Engine(settings).sessions is not calendar
