"""OKX v5 adapter: golden frames (contracts × ctVal), merged prices, builders, properties.

Real frames: liquidation-orders_ack, liquidation-orders_swap, pong_text, notice,
mark-price_ack, mark-price_futures, mark-price_error (EXCHANGES.md §4 fixtures; the ack is
itself composed there from the documented generic ack). COMPOSED from documented fields:
liquidation-orders_mixed (inverse BTC-USD-SWAP and XAU-USDT-SWAP), liquidation-orders_empty,
tickers_swap (the real spot tickers frame re-pointed at BTC-USDT-SWAP), mark-price_swap,
instruments_swap and instruments_futures (the documented response shape; ctVal values
for XAU and TSLA are assumptions).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.sources import okx as venue
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

CLASSES = checks.CLASSES
TS_RECV_NS = checks.TS_RECV_NS

NAME = "okx"
GOLDEN = [
    ("liquidation-orders_swap", venue.LiquidationParser),
    ("liquidation-orders_mixed", venue.LiquidationParser),
    ("mark-price_futures", venue.PriceParser),
    ("tickers_swap", venue.PriceParser),
    ("mark-price_swap", venue.PriceParser),
]
PARSERS = [venue.LiquidationParser, venue.PriceParser]


def make_book() -> InstrumentBook:
    return checks.book(venue, "instruments_swap", "instruments_futures", classes=CLASSES)


@pytest.mark.parametrize(("name", "parser"), GOLDEN)
def test_golden(name, parser):
    assert checks.assert_golden(parser(make_book()).parse, NAME, name)


@pytest.mark.parametrize(("name", "parser"), GOLDEN)
def test_unknown_fields_are_tolerated(name, parser):
    checks.assert_golden(parser(make_book()).parse, NAME, name, extra_fields=True)


def test_order_side_and_contract_units():
    # IOST-USDT-SWAP: ctVal 1000 IOST; "buy" forced order = a short was liquidated
    [iost] = checks.expected(NAME, "liquidation-orders_swap")
    assert (iost.position_side, iost.qty) == ("short", 13000.0)
    assert iost.notional_usd == pytest.approx(13000 * 0.007831)
    assert iost.ts_event_ns == 1692266434010 * 1_000_000
    # BTC-USD-SWAP inverse: 12 contracts × 100 USD; XAU-USDT-SWAP: 250 × 0.001 XAU
    long_btc, short_btc, xau = checks.expected(NAME, "liquidation-orders_mixed")
    assert (long_btc.position_side, long_btc.notional_usd) == ("long", 1200.0)
    assert long_btc.qty == pytest.approx(1200 / 62000.5)
    assert (short_btc.position_side, short_btc.notional_usd) == ("short", 300.0)
    assert (xau.asset_class, xau.qty) == ("metal", pytest.approx(0.25))
    assert xau.notional_usd == pytest.approx(0.25 * 4649.8)


@pytest.mark.parametrize(
    "name",
    ["liquidation-orders_ack", "liquidation-orders_empty", "pong_text", "notice", "mark-price_ack"],
)
@pytest.mark.parametrize("parser", PARSERS)
def test_acks_pongs_notices_give_nothing(name, parser):
    assert parser(make_book()).parse(checks.payload(NAME, name), TS_RECV_NS) == []


def test_pong_as_text_frame():
    assert venue.LiquidationParser(make_book()).parse("pong", TS_RECV_NS) == []


@pytest.mark.parametrize("parser", PARSERS)
def test_error_event_raises(parser):
    with pytest.raises(ParseError, match="60012"):
        parser(make_book()).parse(checks.payload(NAME, "mark-price_error"), TS_RECV_NS)


@pytest.mark.parametrize(
    "detail",
    [
        {"side": "buy", "sz": "1", "bkPx": "1", "ts": 1692266434010},
        {"side": "buy", "sz": "1", "bkPx": "1", "ts": "-5"},
        {"side": "buy", "sz": "1", "bkPx": "1", "ts": "1.5e12"},
        {"side": "buy", "sz": "0", "bkPx": "1", "ts": "1"},
        {"side": "buy", "sz": "1", "bkPx": "NaN", "ts": "1"},
        {"side": "long", "sz": "1", "bkPx": "1", "ts": "1"},
        {"side": "buy", "sz": "1", "ts": "1"},
    ],
)
def test_malformed_details_raise(detail):
    frame = json.dumps({"arg": {}, "data": [{"instId": "BTC-USDT-SWAP", "details": [detail]}]})
    with pytest.raises(ParseError, match=NAME):
        venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)


def test_unknown_instrument_shape_raises():
    frame = (
        b'{"data":[{"instId":"BTC-USDT","details":[{"side":"buy","sz":"1","bkPx":"1","ts":"1"}]}]}'
    )
    with pytest.raises(ParseError, match="unknown instrument"):
        venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)


def test_prices_merge_mark_with_ticker_bid_ask():
    # Arrange
    parser = venue.PriceParser(make_book())
    [first] = parser.parse(checks.payload(NAME, "tickers_swap"), TS_RECV_NS)
    # Act: a mark price arrives; bid/ask are kept from the ticker
    [second] = parser.parse(checks.payload(NAME, "mark-price_swap"), TS_RECV_NS)
    # Assert: last price until a mark is known, then the mark
    assert (first.price, first.bid, first.ask) == (9999.99, 8888.88, 9999.99)
    assert (second.price, second.bid, second.ask) == (9990.5, 8888.88, 9999.99)
    [third] = parser.parse(checks.payload(NAME, "tickers_swap"), TS_RECV_NS)
    assert third.price == 9990.5


def test_parse_instruments():
    swaps = venue.parse_instruments(checks.payload(NAME, "instruments_swap"), CLASSES)
    assert [(i.venue_symbol, i.symbol, i.inverse, i.contract_size) for i in swaps] == [
        ("BTC-USDT-SWAP", "BTC-USDT-PERP", False, 0.01),
        ("BTC-USD-SWAP", "BTC-USD-PERP", True, 100.0),
        ("IOST-USDT-SWAP", "IOST-USDT-PERP", False, 1000.0),
        ("XAU-USDT-SWAP", "XAU-USDT-PERP", False, 0.001),
        ("TSLA-USDT-SWAP", "TSLA-USDT-PERP", False, 0.01),
    ]
    assert swaps[4].asset_class == "equity"
    [future] = venue.parse_instruments(checks.payload(NAME, "instruments_futures"), CLASSES)
    assert future == Instrument(
        NAME, "LTC-USD-190628", "LTC-USD-190628", "LTC", "crypto", "USD", True, 10.0, "FUTURES"
    )


def test_parse_instruments_rejects_garbage():
    with pytest.raises(ParseError):
        venue.parse_instruments(b'{"data":{}}', CLASSES)


def test_fallback():
    assert venue.fallback("ETH-USD-SWAP", {}) == Instrument(
        NAME, "ETH-USD-SWAP", "ETH-USD-PERP", "ETH", "crypto", "USD", True, 10.0, "SWAP"
    )
    assert venue.fallback("BTC-USD-SWAP", {}).contract_size == 100.0
    assert venue.fallback("SOL-USDT-SWAP", {}).contract_size == 1.0
    assert venue.fallback("BTC-USDT", {}) is None


def test_streams_topics_and_subscribe():
    instruments = make_book().all()
    liq, prices = venue.SPEC.streams
    liq_topics = liq.topics(instruments)
    assert liq_topics == ["liquidation-orders:SWAP", "liquidation-orders:FUTURES"]
    assert json.loads(liq.subscribe(liq_topics)[0]) == {
        "op": "subscribe",
        "args": [
            {"channel": "liquidation-orders", "instType": "SWAP"},
            {"channel": "liquidation-orders", "instType": "FUTURES"},
        ],
    }
    price_topics = prices.topics(instruments[:1])
    assert price_topics == [
        "tickers:BTC-USD-SWAP",
        "mark-price:BTC-USD-SWAP",
        "open-interest:BTC-USD-SWAP",
    ]
    [message] = prices.subscribe(price_topics)
    assert json.loads(message)["args"][1] == {"channel": "mark-price", "instId": "BTC-USD-SWAP"}
    assert liq.url(liq_topics) == "wss://ws.okx.com:8443/ws/v5/public"
    assert liq.heartbeat is not None
    assert (liq.heartbeat.payload, liq.heartbeat.interval_s) == ("ping", 25)


def test_one_request_stays_under_64_kb():
    topics = ["mark-price:%s-USDT-SWAP" % ("X" * 12)] * venue.MAX_TOPICS_PER_CONN
    [message] = venue.subscribe(topics)
    assert len(message.encode()) < 64 * 1024


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


def test_open_interest_is_merged_and_valued_at_the_price():
    """open-interest_swap is COMPOSED from the documented fields (``oi`` contracts, ``oiCcy``)."""
    parser = venue.PriceParser(make_book())
    [before] = parser.parse(checks.payload(NAME, "tickers_swap"), TS_RECV_NS)
    [with_oi] = parser.parse(checks.payload(NAME, "open-interest_swap"), TS_RECV_NS)
    [marked] = parser.parse(checks.payload(NAME, "mark-price_swap"), TS_RECV_NS)
    assert before.open_interest_usd is None
    assert with_oi.open_interest_usd == pytest.approx(22161.1301 * 9999.99)
    assert marked.open_interest_usd == pytest.approx(22161.1301 * 9990.5)
    # contracts only: × ctVal (BTC-USDT-SWAP 0.01 BTC)
    frame = checks.text(NAME, "open-interest_swap").replace(',"oiCcy":"22161.1301"', "")
    assert venue.PriceParser(make_book()).parse(frame, TS_RECV_NS) == []  # no price yet
    parser = venue.PriceParser(make_book())
    parser.parse(checks.text(NAME, "mark-price_swap"), TS_RECV_NS)
    [valued] = parser.parse(frame, TS_RECV_NS)
    assert valued.open_interest_usd == pytest.approx(2216113.01 * 0.01 * 9990.5)


def test_price_topics_include_open_interest():
    inst = make_book().get("BTC-USDT-SWAP")
    assert inst is not None
    assert venue.price_topics([inst]) == [
        "tickers:BTC-USDT-SWAP",
        "mark-price:BTC-USDT-SWAP",
        "open-interest:BTC-USDT-SWAP",
    ]
