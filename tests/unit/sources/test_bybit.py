"""Bybit v5 adapter: golden frames, ticker state, builders, instruments, properties.

Real frames: allLiquidation_ack, allLiquidation_linear, allLiquidation_pong,
liquidation_deprecated, tickers_snapshot (EXCHANGES.md §3 fixtures). COMPOSED from
documented fields: allLiquidation_inverse, allLiquidation_tradfi, allLiquidation_refused,
tickers_delta, instruments_linear and instruments_inverse (the documented
instruments-info response shape with our own symbol rows).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.sources import bybit as venue
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

CLASSES = checks.CLASSES
TS_RECV_NS = checks.TS_RECV_NS

NAME = "bybit"
GOLDEN = [
    ("allLiquidation_linear", venue.LiquidationParser),
    ("allLiquidation_inverse", venue.LiquidationParser),
    ("allLiquidation_tradfi", venue.LiquidationParser),
    ("liquidation_deprecated", venue.LiquidationParser),
    ("tickers_snapshot", venue.TickerParser),
]
PARSERS = [venue.LiquidationParser, venue.TickerParser]


def make_book() -> InstrumentBook:
    return checks.book(venue, "instruments_linear", "instruments_inverse", classes=CLASSES)


@pytest.mark.parametrize(("name", "parser"), GOLDEN)
def test_golden(name, parser):
    assert checks.assert_golden(parser(make_book()).parse, NAME, name)


@pytest.mark.parametrize(("name", "parser"), GOLDEN)
def test_unknown_fields_are_tolerated(name, parser):
    checks.assert_golden(parser(make_book()).parse, NAME, name, extra_fields=True)


def test_position_side_and_units():
    # S is the POSITION side: "Sell" = a short was liquidated; linear v is base coin
    [linear] = checks.expected(NAME, "allLiquidation_linear")
    assert (linear.position_side, linear.qty) == ("short", 20000.0)
    assert linear.notional_usd == pytest.approx(20000 * 0.04499)
    # inverse v is USD contracts: notional = v, qty = v / p; "Buy" = a long was liquidated
    [inverse] = checks.expected(NAME, "allLiquidation_inverse")
    assert (inverse.position_side, inverse.notional_usd) == ("long", 25000.0)
    assert inverse.qty == pytest.approx(25000 / 62500.5)
    assert inverse.ts_event_ns == 1767600000800 * 1_000_000


@pytest.mark.parametrize("name", ["allLiquidation_ack", "allLiquidation_pong"])
@pytest.mark.parametrize("parser", PARSERS)
def test_acks_and_pongs_give_nothing(name, parser):
    assert parser(make_book()).parse(checks.payload(NAME, name), TS_RECV_NS) == []


def test_empty_data_gives_nothing():
    frame = b'{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1,"data":[]}'
    assert venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS) == []


@pytest.mark.parametrize("parser", PARSERS)
def test_refused_subscription_raises(parser):
    with pytest.raises(ParseError, match="handler not found"):
        parser(make_book()).parse(checks.payload(NAME, "allLiquidation_refused"), TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        b"nope",
        b'{"topic":"allLiquidation.X","data":{"T":1}}',
        b'{"topic":"allLiquidation.X","data":[{"T":"1","s":"BTCUSDT","S":"Buy","v":"1","p":"1"}]}',
        b'{"topic":"allLiquidation.X","data":[{"T":1,"s":"BTCUSDT","S":"Long","v":"1","p":"1"}]}',
        b'{"topic":"allLiquidation.X","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"-1","p":"1"}]}',
        b'{"topic":"allLiquidation.X","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"inf"}]}',
        b'{"topic":"allLiquidation.X","data":[{"T":1,"s":"BTCUSDH26","S":"Buy","v":"1","p":"1"}]}',
    ],
)
def test_malformed_liquidation_frames_raise(frame):
    with pytest.raises(ParseError, match=NAME):
        venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)


def test_ticker_delta_merges_into_snapshot():
    # Arrange
    parser = venue.TickerParser(make_book())
    parser.parse(checks.payload(NAME, "tickers_snapshot"), TS_RECV_NS)
    # Act: the delta carries bid/ask/funding only; mark price and OI are unchanged
    [tick] = parser.parse(checks.payload(NAME, "tickers_delta"), TS_RECV_NS)
    # Assert
    assert (tick.price, tick.bid, tick.ask) == (66666.6, 66660.1, 66660.2)
    assert tick.funding_rate == -0.0049
    assert tick.open_interest_usd == 32824881841.75
    assert tick.ts_event_ns == 1760325052730 * 1_000_000


def delta(data: str) -> str:
    return '{"topic":"tickers.BTCUSDT","type":"delta","ts":5,"data":%s}' % data


def test_ticker_delta_before_snapshot():
    parser = venue.TickerParser(make_book())
    # no price known yet: nothing, but the fields are kept
    assert parser.parse(checks.payload(NAME, "tickers_delta"), TS_RECV_NS) == []
    later = delta('{"symbol":"BTCUSDT","markPrice":"7"}')
    [tick] = parser.parse(later, TS_RECV_NS)
    assert (tick.price, tick.bid, tick.funding_rate) == (7.0, 66660.1, -0.0049)


def test_ticker_inverse_open_interest_is_usd_contracts():
    frame = json.dumps(
        {
            "topic": "tickers.BTCUSD",
            "type": "snapshot",
            "ts": 1,
            "data": {
                "symbol": "BTCUSD",
                "markPrice": "60000",
                "openInterest": "500000000",
                "openInterestValue": "8333.33",
            },
        }
    )
    [tick] = venue.TickerParser(make_book()).parse(frame, TS_RECV_NS)
    assert tick.open_interest_usd == 500000000.0


def test_bad_ticker_delta_keeps_state():
    parser = venue.TickerParser(make_book())
    parser.parse(checks.payload(NAME, "tickers_snapshot"), TS_RECV_NS)
    bad = delta('{"symbol":"BTCUSDT","markPrice":"-3"}')
    with pytest.raises(ParseError):
        parser.parse(bad, TS_RECV_NS)
    [tick] = parser.parse(checks.payload(NAME, "tickers_delta"), TS_RECV_NS)
    assert tick.price == 66666.6


def test_parse_instruments():
    linear = venue.parse_instruments(checks.payload(NAME, "instruments_linear"), CLASSES)
    inverse = venue.parse_instruments(checks.payload(NAME, "instruments_inverse"), CLASSES)
    assert [(i.venue_symbol, i.symbol, i.asset_class, i.category) for i in linear] == [
        ("BTCUSDT", "BTC-USDT-PERP", "crypto", "linear"),
        ("XAUUSDT", "XAU-USDT-PERP", "metal", "linear"),
        ("NVDAUSDT", "NVDA-USDT-PERP", "equity", "linear"),
        ("BTCPERP", "BTC-USDC-PERP", "crypto", "linear"),
        ("BTCUSDT-26DEC25", "BTC-USDT-251226", "crypto", "linear"),
    ]
    assert inverse[0] == Instrument(
        NAME, "BTCUSD", "BTC-USD-PERP", "BTC", "crypto", "USD", True, 1.0, "inverse"
    )


def test_fallback():
    assert venue.fallback("XAGUSDT", CLASSES) == Instrument(
        NAME, "XAGUSDT", "XAG-USDT-PERP", "XAG", "metal", "USDT", False, 1.0, "linear"
    )
    assert venue.fallback("SOLUSD", {}).inverse
    assert venue.fallback("ETHPERP", {}).symbol == "ETH-USDC-PERP"
    assert venue.fallback("ETH-27MAR26", {}).symbol == "ETH-USDC-260327"
    assert venue.fallback("ETHUSDT-27MAR26", {}).symbol == "ETH-USDT-260327"
    assert venue.fallback("BTCUSDH26", {}) is None


def test_streams_topics_and_subscribe():
    instruments = make_book().all()
    streams = {s.name: s for s in venue.SPEC.streams}
    liq_linear = streams["liquidations_linear"]
    topics = liq_linear.topics(instruments)
    assert "allLiquidation.XAUUSDT" in topics
    assert "allLiquidation.BTCUSD" not in topics
    assert streams["liquidations_inverse"].topics(instruments) == [
        "allLiquidation.BTCUSD",
        "allLiquidation.ETHUSD",
    ]
    assert streams["prices_inverse"].url([]) == "wss://stream.bybit.com/v5/public/inverse"
    assert liq_linear.url(topics) == "wss://stream.bybit.com/v5/public/linear"
    [message] = liq_linear.subscribe(topics)
    assert json.loads(message) == {"op": "subscribe", "args": topics}
    assert liq_linear.heartbeat is not None
    assert json.loads(liq_linear.heartbeat.payload) == {"op": "ping"}
    assert liq_linear.heartbeat.interval_s == 20


def test_one_connection_stays_under_the_args_limit():
    # 21,000 characters of args per connection, with long symbols
    topics = ["allLiquidation.%s" % ("X" * 18 + "USDT")] * venue.MAX_TOPICS_PER_CONN
    messages = venue.subscribe(topics)
    assert sum(len(json.dumps(json.loads(m)["args"])) for m in messages) < 21_000


@checks.PROPERTY
@given(data=checks.arbitrary(300))
def test_property_arbitrary_input(data):
    for parser in PARSERS:
        checks.outcome_ok(parser(make_book()).parse, data)


@checks.PROPERTY
@given(data=st.data())
def test_property_mutated_real_frames(data):
    name, parser = data.draw(st.sampled_from([*GOLDEN, ("tickers_delta", venue.TickerParser)]))
    frame = data.draw(checks.mutated(checks.payload(NAME, name)))
    instance = parser(make_book())
    if parser is venue.TickerParser:
        instance.parse(checks.payload(NAME, "tickers_snapshot"), TS_RECV_NS)
    checks.outcome_ok(instance.parse, frame)
