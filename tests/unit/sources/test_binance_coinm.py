"""Binance COIN-M adapter: golden frames (contracts → USD), builders, instruments, properties.

Real frames: forceOrder_dated, markPrice_single (EXCHANGES.md §2 fixtures). COMPOSED from
documented fields: forceOrder_combined (ETHUSD_PERP, combined envelope), forceOrder_ack,
markPrice_pair (the documented envelope around the real per-pair array) and
exchangeInfo_rest (rows copied from a BTCUSD_PERP row quoted in public code, names changed).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.sources import binance_coinm as venue
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

CLASSES = checks.CLASSES
TS_RECV_NS = checks.TS_RECV_NS

NAME = "binance_coinm"
GOLDEN = [
    ("forceOrder_dated", venue.LiquidationParser),
    ("forceOrder_combined", venue.LiquidationParser),
    ("markPrice_single", venue.MarkPriceParser),
    ("markPrice_pair", venue.MarkPriceParser),
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


def test_inverse_units():
    # 1 contract of 100 USD at an average fill of 9496.5: notional 100 USD, qty in BTC
    [dated] = checks.expected(NAME, "forceOrder_dated")
    assert dated.symbol == "BTC-USD-200925"
    assert dated.position_side == "long"
    assert dated.notional_usd == pytest.approx(100.0)
    assert dated.qty == pytest.approx(100.0 / 9496.5)
    assert dated.completeness == "sampled"
    # 30 contracts of 10 USD, BUY = short liquidated
    [perp] = checks.expected(NAME, "forceOrder_combined")
    assert (perp.symbol, perp.position_side) == ("ETH-USD-PERP", "short")
    assert perp.notional_usd == pytest.approx(300.0)
    assert perp.qty == pytest.approx(0.1)


def test_funding_empty_for_dated_contracts():
    dated, perp = checks.expected(NAME, "markPrice_pair")
    assert dated.funding_rate is None
    assert perp.funding_rate == 0.0


@pytest.mark.parametrize("parser", PARSERS)
def test_ack_gives_nothing(parser):
    assert parser(make_book()).parse(checks.payload(NAME, "forceOrder_ack"), TS_RECV_NS) == []


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff\xfe",
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSD_PERP","S":"SELL","q":"1","p":"1","T":1.5}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSD_PERP","S":"SELL","q":"0","p":"1","T":1}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSD_PERP","S":"SELL","q":"1e308","p":"1e-308"}}',
        b'{"e":"forceOrder","E":1,"o":{"s":"BTCUSD_PERP","S":"SELL","q":"1","p":"1","T":99e99}}',
        b'{"e":"forceOrder","E":1,"o":{"s":7,"S":"SELL","q":"1","p":"1","T":1}}',
    ],
)
def test_malformed_frames_raise(frame):
    with pytest.raises(ParseError, match=NAME):
        venue.LiquidationParser(make_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments():
    instruments = venue.parse_instruments(checks.payload(NAME, "exchangeInfo_rest"), CLASSES)
    assert [(i.venue_symbol, i.symbol, i.contract_size, i.inverse) for i in instruments] == [
        ("BTCUSD_PERP", "BTC-USD-PERP", 100.0, True),
        ("BTCUSD_200925", "BTC-USD-200925", 100.0, True),
        ("ETHUSD_PERP", "ETH-USD-PERP", 10.0, True),
        ("BTCUSD_201225", "BTC-USD-201225", 100.0, True),
    ]
    assert instruments[0] == Instrument(
        NAME, "BTCUSD_PERP", "BTC-USD-PERP", "BTC", "crypto", "USD", True, 100.0, "PERPETUAL"
    )


def test_parse_instruments_rejects_garbage():
    with pytest.raises(ParseError):
        venue.parse_instruments(b"[1,2]", CLASSES)


def test_fallback():
    assert venue.fallback("SOLUSD_PERP", {}) == Instrument(
        NAME, "SOLUSD_PERP", "SOL-USD-PERP", "SOL", "crypto", "USD", True, 10.0
    )
    assert venue.fallback("BTCUSD_260626", {}).contract_size == 100.0
    assert venue.fallback("BTCUSD_260626", {}).symbol == "BTC-USD-260626"
    assert venue.fallback("NOPE", {}) is None


def test_topics_url_and_subscribe():
    instruments = venue.parse_instruments(checks.payload(NAME, "exchangeInfo_rest"), CLASSES)
    liq, prices = venue.SPEC.streams
    assert liq.topics(instruments) == ["!forceOrder@arr"]
    assert prices.topics(instruments) == ["btcusd@markPrice@1s", "ethusd@markPrice@1s"]
    assert prices.url(prices.topics(instruments)) == (
        "wss://dstream.binance.com/stream?streams=btcusd@markPrice@1s/ethusd@markPrice@1s"
    )
    assert liq.subscribe(["!forceOrder@arr"]) == []
    assert (liq.completeness, liq.max_age_s) == ("sampled", 24 * 3600)


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


def test_catalogue_refresh_reaches_a_live_parser():
    # Arrange: a parser that has already seen ETHUSD_PERP (10 USD per contract)
    book = make_book()
    parser = venue.LiquidationParser(book)
    frame = checks.payload(NAME, "forceOrder_combined")
    [before] = parser.parse(frame, TS_RECV_NS)
    eth = next(i for i in book.all() if i.venue_symbol == "ETHUSD_PERP")
    # Act: the catalogue now says 20 USD per contract
    book.update([Instrument(**{**_fields(eth), "contract_size": 20.0})])
    [after] = parser.parse(frame, TS_RECV_NS)
    # Assert
    assert before.notional_usd == pytest.approx(300.0)
    assert after.notional_usd == pytest.approx(600.0)
    assert after.event_id == before.event_id


def _fields(inst: Instrument) -> dict[str, object]:
    return {name: getattr(inst, name) for name in Instrument.__slots__}
