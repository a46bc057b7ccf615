"""BitMEX adapter: golden frames, table actions, instruments, and property tests.

Real frames (EXCHANGES §5): ``liquidation_insert_xbtusd`` and ``liquidation_insert_dated``
(TRXZ19, a dated future: skipped). Composed from documented field names (no real sample):
``liquidation_insert_linear``, ``liquidation_partial``, ``liquidation_update``,
``liquidation_delete``, ``liquidation_empty``, ``welcome``, ``subscribe_ack``, ``error``,
``instrument_partial``, ``instrument_update`` and ``rest_instrument_active`` (whose JTOUSDT
row copies a real ``/instrument/active`` row, trimmed).
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Event, Liquidation
from monitor.sources import bitmex
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(bitmex.NAME, "rest_")
PRIMING = {"instrument_update": ["instrument_partial"]}  # stateful: frames sent before


def _book() -> InstrumentBook:
    return checks.book(bitmex, "rest_instrument_active")


def _parser(name: str) -> bitmex.LiquidationParser | bitmex.PriceParser:
    if name.startswith("instrument"):
        return bitmex.PriceParser(_book())
    return bitmex.LiquidationParser(_book())


_frame = functools.partial(checks.text, bitmex.NAME)


_expected = functools.partial(checks.expected, bitmex.NAME)


def golden_events(name: str) -> list[Event]:
    """Parse fixture `name` after its priming frames (also used to write the goldens)."""
    parser = _parser(name)
    for prior in PRIMING.get(name, []):
        parser.parse(_frame(prior), TS_RECV_NS)
    return parser.parse(_frame(name), TS_RECV_NS)


@pytest.mark.parametrize("name", [n for n in FRAMES if n != "error"])
def test_golden_frame_gives_expected_events(name: str) -> None:
    assert golden_events(name) == _expected(name)


@pytest.mark.parametrize("name", ["liquidation_insert_xbtusd", "instrument_partial"])
def test_bytes_frame_parses_like_text(name: str) -> None:
    frame = checks.payload(bitmex.NAME, name)

    assert _parser(name).parse(frame, TS_RECV_NS) == _expected(name)


def test_inverse_insert_uses_contracts_as_usd_and_order_side() -> None:
    (liq,) = golden_events("liquidation_insert_xbtusd")

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "short"  # a forced BUY closes a short
    assert liq.notional_usd == 2020.0  # XBTUSD: 1 USD per contract
    assert liq.qty == pytest.approx(2020 / 6833.5)
    assert liq.symbol == "BTC-USD-PERP"
    assert liq.ts_event_ns == TS_RECV_NS  # no time on the row


def test_linear_insert_scales_contracts_by_position_multiplier() -> None:
    (liq,) = golden_events("liquidation_insert_linear")

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "long"  # a forced SELL closes a long
    assert liq.qty == pytest.approx(5000 / 1_000_000)  # 1e-6 XBT per contract
    assert liq.notional_usd == pytest.approx(0.005 * 64000.5)


def test_quanto_insert_is_skipped() -> None:
    frame = (
        '{"table":"liquidation","action":"insert","data":[{"orderID":"a","symbol":"ETHUSD",'
        '"side":"Sell","price":3000,"leavesQty":10}]}'
    )

    assert bitmex.LiquidationParser(_book()).parse(frame, TS_RECV_NS) == []


def test_error_reply_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="Unknown table"):
        bitmex.LiquidationParser(_book()).parse(_frame("error"), TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "",
        '{"table":"liquidation","action":"insert","data":[{"orderID":"a","symbol":"XBTUSD","side":"Sell","price":"x","leavesQty":1}]}',
        '{"table":"liquidation","action":"insert","data":[{"orderID":"a","symbol":"XBTUSD","side":"Hold","price":1,"leavesQty":1}]}',
        '{"table":"liquidation","action":"insert","data":[{"orderID":"a","symbol":"XBTUSD","side":"Sell","price":1,"leavesQty":0}]}',
        '{"table":"liquidation","action":"insert","data":{"orderID":"a"}}',
    ],
)
def test_malformed_or_wrong_typed_liquidation_raises(frame: str) -> None:
    with pytest.raises(ParseError):
        bitmex.LiquidationParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","markPrice":"1"}]}',
        '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","timestamp":"yesterday"}]}',
        '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","timestamp":"2024-03-02T02:44:10"}]}',
    ],
)
def test_malformed_instrument_row_raises(frame: str) -> None:
    with pytest.raises(ParseError):
        bitmex.PriceParser(_book()).parse(frame, TS_RECV_NS)


def test_instrument_delete_forgets_the_symbol() -> None:
    parser = bitmex.PriceParser(_book())
    parser.parse(_frame("instrument_partial"), TS_RECV_NS)
    parser.parse('{"table":"instrument","action":"delete","data":[{"symbol":"XBTUSD"}]}', 1)

    events = parser.parse(
        '{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","bidPrice":1}]}', 2
    )

    assert events == []  # no mark or last price known any more


def test_parse_instruments_keeps_sized_perpetuals() -> None:
    body = checks.payload(bitmex.NAME, "rest_instrument_active")

    got = bitmex.parse_instruments(body, CLASSES)

    assert got == [
        Instrument(
            "bitmex", "XBTUSD", "BTC-USD-PERP", "BTC", "crypto", "USD", True, 1.0, "inverse"
        ),
        Instrument(
            "bitmex", "XBTUSDT", "BTC-USDT-PERP", "BTC", "crypto", "USDT", False, 1e-6, "linear"
        ),
        Instrument(
            "bitmex", "ETHUSD", "ETH-USD-PERP", "ETH", "crypto", "USD", False, 1.0, "quanto"
        ),
        Instrument(
            "bitmex", "JTOUSDT", "JTO-USDT-PERP", "JTO", "crypto", "USDT", False, 1.0, "linear"
        ),
    ]


def test_parse_instruments_rejects_malformed_payload() -> None:
    with pytest.raises(ParseError):
        bitmex.parse_instruments(b'{"symbol": 1}', CLASSES)


def test_fallback_only_derives_inverse_usd_names() -> None:
    assert bitmex.fallback("SOLUSD", CLASSES) == Instrument(
        "bitmex", "SOLUSD", "SOL-USD-PERP", "SOL", "crypto", "USD", True, 1.0, "inverse"
    )
    assert bitmex.fallback("SOLUSDT", CLASSES) is None  # linear sizes are not in the name
    assert bitmex.fallback("XBTZ25", CLASSES) is None
    assert bitmex.fallback(".BXBT", CLASSES) is None


def test_spec_streams_and_subscribe() -> None:
    liq, prices = bitmex.SPEC.streams
    instruments = _book().all()

    assert liq.topics(instruments) == ["liquidation"]
    assert prices.topics(instruments)[0] == "instrument:ETHUSD"
    assert json.loads(liq.subscribe(["liquidation"])[0]) == {
        "op": "subscribe",
        "args": ["liquidation"],
    }
    assert liq.heartbeat is not None
    assert liq.heartbeat.payload == "ping"
    assert bitmex.SPEC.instruments_urls == ("https://www.bitmex.com/api/v1/instrument/active",)


# --- property tests -------------------------------------------------------------------

BOOK = _book()
JSON_FRAMES = [n for n in FRAMES if n != "pong"]
WORDS = ("Sell", "Buy", "XBTUSD")


@checks.PROPERTY
@given(frame=checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: str | bytes) -> None:
    checks.outcome_ok(bitmex.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(bitmex.PriceParser(BOOK).parse, frame)


@checks.PROPERTY
@given(name=st.sampled_from(JSON_FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(_frame(name), *WORDS))
    price_parser = bitmex.PriceParser(BOOK)
    price_parser.parse(_frame("instrument_partial"), TS_RECV_NS)

    checks.outcome_ok(bitmex.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(price_parser.parse, frame)
