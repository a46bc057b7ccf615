"""Binance USDⓈ-M adapter: golden frames, builders, instruments, and property tests.

Real frames: forceOrder_raw, forceOrder_combined, forceOrder_ack, markPrice_single,
markPrice_array (EXCHANGES.md §1 fixtures). COMPOSED from documented fields:
forceOrder_tradfi (XAUUSDT per-symbol stream), markPrice_combined (the documented
``{"stream","data"}`` envelope around the real array) and exchangeInfo_rest (the XAUUSDT row
is a live response row quoted in public code; the other rows are copies with changed names).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.sources import binance_usdm as venue
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

CLASSES = checks.CLASSES
TS_RECV_NS = checks.TS_RECV_NS

NAME = "binance_usdm"
TRADFI = "TRADIFI_PERPETUAL"
DATED = "CURRENT_QUARTER"
GOLDEN = [
    ("forceOrder_raw", venue.LiquidationParser),
    ("forceOrder_combined", venue.LiquidationParser),
    ("forceOrder_tradfi", venue.LiquidationParser),
    ("markPrice_single", venue.MarkPriceParser),
    ("markPrice_array", venue.MarkPriceParser),
    ("markPrice_combined", venue.MarkPriceParser),
]
PARSERS = [venue.LiquidationParser, venue.MarkPriceParser]


def make_book() -> InstrumentBook:
    return checks.book(venue, "exchangeInfo_rest", classes=CLASSES)


@pytest.mark.parametrize(("name", "parser"), GOLDEN)
def test_golden(name, parser):
    assert checks.assert_golden(parser(make_book()).parse, NAME, name)


@pytest.mark.parametrize(("name", "parser"), GOLDEN)
def test_unknown_fields_are_tolerated(name, parser):
    checks.assert_golden(parser(make_book()).parse, NAME, name, extra_fields=True)


def test_str_frames_parse_like_bytes():
    frame = checks.payload(NAME, "forceOrder_combined").decode()
    events = venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)
    assert events == checks.expected(NAME, "forceOrder_combined")


def test_side_convention_and_units():
    # Arrange: SELL forced order = long liquidated; z × ap, in base units
    [liq] = checks.expected(NAME, "forceOrder_combined")
    # Assert
    assert liq.position_side == "long"
    assert liq.qty == pytest.approx(0.009)
    assert liq.notional_usd == pytest.approx(0.009 * 18990.0)
    assert liq.completeness == "sampled"
    assert liq.ts_event_ns == 1665523974217 * 1_000_000
    [short] = checks.expected(NAME, "forceOrder_tradfi")
    assert short.position_side == "short"
    assert short.asset_class == "metal"


@pytest.mark.parametrize(
    ("frame", "parser"),
    [
        (b'{"result":null,"id":1}', venue.LiquidationParser),
        (b'{"result":null,"id":1}', venue.MarkPriceParser),
        (b'{"e":"forceOrder","E":1}', venue.LiquidationParser),
        (b'{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1}}', venue.LiquidationParser),
        (b'{"stream":"!markPrice@arr@1s","data":[]}', venue.MarkPriceParser),
        (b"[]", venue.MarkPriceParser),
    ],
)
def test_acks_and_empty_frames_give_nothing(frame, parser):
    assert parser(make_book()).parse(frame, TS_RECV_NS) == []


def test_fixture_ack_gives_nothing():
    assert (
        venue.LiquidationParser(make_book()).parse(checks.payload(NAME, "forceOrder_ack"), 1) == []
    )


@pytest.mark.parametrize(
    "frame",
    [
        b"{not json",
        b"",
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","q":"1","p":"1","T":"x"}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","q":"abc","p":"1","T":1}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","q":"-1","p":"1","T":1}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","q":"1","p":"nan","T":1}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"HOLD","q":"1","p":"1","T":1}}',
        b'{"e":"forceOrder","E":0,"o":{"s":"BTCUSDT","S":"SELL","q":"1","p":"1","T":0}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"???","S":"SELL","q":"1","p":"1","T":1}}',
        b'{"error":{"code":2,"msg":"Invalid request"},"id":1}',
    ],
)
def test_malformed_liquidation_frames_raise(frame):
    with pytest.raises(ParseError, match=NAME):
        venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        b'[{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"0","r":""}]',
        b'[{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":"inf"}]',
        b'{"stream":"x","data":{"s":"BTCUSDT","p":1,"E":1}}',
        b'{"stream":"x","data":"oops"}',
    ],
)
def test_malformed_mark_frames_raise(frame):
    with pytest.raises(ParseError):
        venue.MarkPriceParser(make_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments():
    instruments = venue.parse_instruments(checks.payload(NAME, "exchangeInfo_rest"), CLASSES)
    assert instruments == [
        Instrument(NAME, "BTCUSDT", "BTC-USDT-PERP", "BTC", "crypto", "USDT", category="PERPETUAL"),
        Instrument(
            NAME, "XAUUSDT", "XAU-USDT-PERP", "XAU", "metal", "USDT", category="TRADIFI_PERPETUAL"
        ),
        Instrument(
            NAME,
            "TSLAUSDT",
            "TSLA-USDT-PERP",
            "TSLA",
            "equity",
            "USDT",
            category="TRADIFI_PERPETUAL",
        ),
        Instrument(
            NAME,
            "ETHUSDT_260327",
            "ETH-USDT-260327",
            "ETH",
            "crypto",
            "USDT",
            category="CURRENT_QUARTER",
        ),
    ]


def test_parse_instruments_rejects_garbage():
    with pytest.raises(ParseError):
        venue.parse_instruments(b'{"symbols": 3}', CLASSES)


def test_fallback():
    assert venue.fallback("XAGUSDT", CLASSES) == Instrument(
        NAME, "XAGUSDT", "XAG-USDT-PERP", "XAG", "metal", "USDT"
    )
    assert venue.fallback("BTCUSDT_250926", {}).symbol == "BTC-USDT-250926"
    assert venue.fallback("WHATEVER", {}) is None


def test_topics_url_and_subscribe():
    # Arrange: TradFi instruments get per-symbol streams, even when unclassified
    instruments = venue.parse_instruments(checks.payload(NAME, "exchangeInfo_rest"), {})
    liq, prices = venue.SPEC.streams
    # Act
    liq_topics = liq.topics(instruments)
    price_topics = prices.topics(instruments)
    # Assert
    assert liq_topics == ["!forceOrder@arr", "xauusdt@forceOrder", "tslausdt@forceOrder"]
    assert price_topics == ["!markPrice@arr@1s", "xauusdt@markPrice@1s", "tslausdt@markPrice@1s"]
    assert liq.url(liq_topics) == (
        "wss://fstream.binance.com/market/stream?streams="
        "!forceOrder@arr/xauusdt@forceOrder/tslausdt@forceOrder"
    )
    assert liq.subscribe(liq_topics) == []
    assert liq.completeness == "sampled"
    assert liq.max_age_s == 24 * 3600
    assert venue.SPEC.name == NAME


@checks.PROPERTY
@given(data=checks.arbitrary(300))
def test_property_arbitrary_input(data):
    for parser in PARSERS:
        checks.outcome_ok(parser(make_book()).parse, data)


@checks.PROPERTY
@given(data=st.data())
def test_property_mutated_real_frames(data):
    name, parser = data.draw(st.sampled_from(GOLDEN))
    frame = data.draw(checks.mutated(checks.payload(NAME, name)))
    checks.outcome_ok(parser(make_book()).parse, frame)


@pytest.mark.parametrize(("z", "ap"), [("0", "0"), ("", ""), ("-1", "nan")])
def test_unfilled_order_falls_back_to_order_qty_and_price(z, ap):
    frame = (
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"BUY","q":"0.5","p":"100.5",'
        b'"z":"%s","ap":"%s","T":1700000000000}}' % (z.encode(), ap.encode())
    )
    [liq] = venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)
    assert (liq.qty, liq.price, liq.position_side) == (0.5, 100.5, "short")
    assert liq.event_id == "binance_usdm:BTCUSDT:1700000000000:BUY:0.5:100.5"
