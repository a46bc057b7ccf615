"""BitMEX adapter: golden frames, table actions, instruments, and property tests.

Real frames (EXCHANGES §5): ``liquidation_insert_xbtusd`` and ``liquidation_insert_dated``
(TRXZ19, a dated future: skipped). Composed from documented field names (no real sample):
``liquidation_insert_linear``, ``liquidation_partial``, ``liquidation_update``,
``liquidation_delete``, ``liquidation_empty``, ``welcome``, ``subscribe_ack``, ``error``,
``instrument_partial``, ``instrument_update`` and ``rest_instrument_active`` (whose JTOUSDT
row copies a real ``/instrument/active`` row, trimmed).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import codec
from monitor.config import AssetSettings
from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick
from monitor.sources import bitmex
from monitor.sources.base import Instrument, InstrumentBook

FIXTURES = Path(__file__).parents[2] / "fixtures"
PAYLOADS = FIXTURES / "payloads" / "bitmex"
EXPECTED = FIXTURES / "expected" / "bitmex"
TS_RECV_NS = 1_700_000_000_000_000_000
CLASSES = AssetSettings().classes
FRAMES = sorted(p.stem for p in PAYLOADS.glob("*.json") if not p.stem.startswith("rest_"))
PRIMING = {"instrument_update": ["instrument_partial"]}  # stateful: frames sent before


def _book() -> InstrumentBook:
    body = (PAYLOADS / "rest_instrument_active.json").read_bytes()
    return InstrumentBook(
        "bitmex", bitmex.parse_instruments(body, CLASSES), CLASSES, bitmex.fallback
    )


def _parser(name: str) -> bitmex.LiquidationParser | bitmex.PriceParser:
    if name.startswith("instrument"):
        return bitmex.PriceParser(_book())
    return bitmex.LiquidationParser(_book())


def _frame(name: str) -> str:
    return (PAYLOADS / ("%s.json" % name)).read_text()


def _expected(name: str) -> list[Event]:
    lines = (EXPECTED / ("%s.jsonl" % name)).read_bytes().splitlines()
    return [codec.decode(line) for line in lines if line]


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
    frame = (PAYLOADS / ("%s.json" % name)).read_bytes()

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
    body = (PAYLOADS / "rest_instrument_active.json").read_bytes()

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

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "0", "-1", "nan", "inf", "1e400", "Sell", "Buy", "XBTUSD"])
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        *parent_path, last = data.draw(st.sampled_from(paths))
        parent = doc
        for step in parent_path:
            parent = parent[step]
        if data.draw(st.booleans()):
            del parent[last]
        else:
            parent[last] = data.draw(JSON_VALUES)
    return doc


def _assert_valid(events: list[Event]) -> None:
    for event in events:
        assert isinstance(event, Liquidation | Tick)
        assert math.isfinite(event.price)
        assert event.price > 0
        assert event.ts_event_ns > 0
        if isinstance(event, Liquidation):
            assert math.isfinite(event.qty)
            assert event.qty > 0
            assert math.isfinite(event.notional_usd)
            assert event.notional_usd > 0
        codec.encode(event)


def _outcome(parser: bitmex.LiquidationParser | bitmex.PriceParser, frame: str | bytes) -> None:
    try:
        events = parser.parse(frame, TS_RECV_NS)
    except ParseError:
        return
    _assert_valid(events)


BOOK = _book()
JSON_FRAMES = [n for n in FRAMES if n != "pong"]


@settings(max_examples=200, deadline=None)
@given(frame=st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_input_gives_events_or_parse_error(frame: str | bytes) -> None:
    _outcome(bitmex.LiquidationParser(BOOK), frame)
    _outcome(bitmex.PriceParser(BOOK), frame)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(JSON_FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = json.dumps(_mutate(json.loads(_frame(name)), data))
    price_parser = bitmex.PriceParser(BOOK)
    price_parser.parse(_frame("instrument_partial"), TS_RECV_NS)

    _outcome(bitmex.LiquidationParser(BOOK), frame)
    _outcome(price_parser, frame)
