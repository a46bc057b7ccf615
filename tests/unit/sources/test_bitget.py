"""Bitget v3 adapter: golden frames, position-side inversion, instruments, property tests.

Real frames (EXCHANGES §7): ``liquidation_subscribe_ack``, ``liquidation_update`` and
``pong``. Composed from documented field names (no real sample):
``liquidation_snapshot_multi``, ``liquidation_usdc``, ``liquidation_empty``, ``error``,
``ticker_snapshot`` (v3 ticker field names, UNCERTAIN) and ``rest_instruments``.
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
from monitor.sources import bitget
from monitor.sources.base import Instrument, InstrumentBook

FIXTURES = Path(__file__).parents[2] / "fixtures"
PAYLOADS = FIXTURES / "payloads" / "bitget"
EXPECTED = FIXTURES / "expected" / "bitget"
TS_RECV_NS = 1_700_000_000_000_000_000
CLASSES = AssetSettings().classes
FRAMES = sorted(p.stem for p in PAYLOADS.glob("*.json") if not p.stem.startswith("rest_"))


def _book() -> InstrumentBook:
    body = (PAYLOADS / "rest_instruments.json").read_bytes()
    return InstrumentBook(
        "bitget", bitget.parse_instruments(body, CLASSES), CLASSES, bitget.fallback
    )


def _parser(name: str) -> bitget.LiquidationParser | bitget.PriceParser:
    if name.startswith("ticker"):
        return bitget.PriceParser(_book())
    return bitget.LiquidationParser(_book())


def _frame(name: str) -> str:
    return (PAYLOADS / ("%s.json" % name)).read_text()


def _expected(name: str) -> list[Event]:
    lines = (EXPECTED / ("%s.jsonl" % name)).read_bytes().splitlines()
    return [codec.decode(line) for line in lines if line]


def golden_events(name: str) -> list[Event]:
    """Parse fixture `name` (also used to write the goldens)."""
    return _parser(name).parse(_frame(name), TS_RECV_NS)


@pytest.mark.parametrize("name", [n for n in FRAMES if n != "error"])
def test_golden_frame_gives_expected_events(name: str) -> None:
    assert golden_events(name) == _expected(name)


def test_pong_text_frame_gives_nothing() -> None:
    assert _frame("pong") == "pong"  # the venue's bare text frame
    assert bitget.LiquidationParser(_book()).parse(b"pong", TS_RECV_NS) == []
    assert bitget.PriceParser(_book()).parse("pong", TS_RECV_NS) == []


def test_buy_is_a_long_position_and_amount_is_quote_notional() -> None:
    (liq,) = golden_events("liquidation_update")

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "long"  # side is the POSITION side
    assert liq.notional_usd == 37.722858
    assert liq.qty == pytest.approx(37.722858 / 89000)
    assert liq.completeness == "sampled"
    assert liq.ts_event_ns == 1_736_371_332_162_000_000


def test_tradfi_and_usdc_symbols_resolve() -> None:
    gold, btc = golden_events("liquidation_snapshot_multi")
    (eth,) = golden_events("liquidation_usdc")

    assert isinstance(gold, Liquidation)
    assert isinstance(eth, Liquidation)
    assert (gold.symbol, gold.asset_class, gold.position_side) == (
        "XAU-USDT-PERP",
        "metal",
        "short",
    )
    assert gold.qty == pytest.approx(2.0)  # 6701 USDT / 3350.5
    assert btc.symbol == "BTC-USDT-PERP"
    assert eth.symbol == "ETH-USDC-PERP"  # from the fallback: BTCPERP-style USDC name


def test_error_event_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="30001"):
        bitget.LiquidationParser(_book()).parse(_frame("error"), TS_RECV_NS)


@pytest.mark.parametrize(
    "row",
    [
        '{"symbol":"BTCUSDT","side":"long","price":"1","amount":"1","ts":"1"}',
        '{"symbol":"BTCUSDT","side":"buy","price":"0","amount":"1","ts":"1"}',
        '{"symbol":"BTCUSDT","side":"buy","price":"1","amount":"-1","ts":"1"}',
        '{"symbol":"BTCUSDT","side":"buy","price":"1","amount":"x","ts":"1"}',
        '{"symbol":"BTCUSDT","side":"buy","price":"1","amount":"1","ts":"soon"}',
        '{"symbol":"BTCUSDT","side":"buy","price":"1","amount":"1","ts":"-1"}',
        '{"symbol":"BTCUSDT","side":"buy","price":1,"amount":"1","ts":"1"}',
        '{"symbol":"BTC-USDT","side":"buy","price":"1","amount":"1","ts":"1"}',
    ],
)
def test_wrong_typed_rows_raise(row: str) -> None:
    frame = '{"arg":{"instType":"usdt-futures","topic":"liquidation"},"data":[%s]}' % row

    with pytest.raises(ParseError):
        bitget.LiquidationParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize("frame", ["{not json", "", "[]", '{"arg": 5}', "ping"])
def test_malformed_json_raises(frame: str) -> None:
    with pytest.raises(ParseError):
        bitget.LiquidationParser(_book()).parse(frame, TS_RECV_NS)
    with pytest.raises(ParseError):
        bitget.PriceParser(_book()).parse(frame, TS_RECV_NS)


def test_ticker_uses_mark_price_bbo_and_funding() -> None:
    (tick,) = golden_events("ticker_snapshot")

    assert isinstance(tick, Tick)
    assert (tick.price, tick.bid, tick.ask) == (89008.0, 89010.1, 89010.6)
    assert tick.funding_rate == 0.0001
    assert tick.open_interest_usd == pytest.approx(12000.5 * 89008.0)


def test_parse_instruments_maps_quote_to_inst_type() -> None:
    body = (PAYLOADS / "rest_instruments.json").read_bytes()

    got = bitget.parse_instruments(body, CLASSES)

    assert got[2] == Instrument(
        "bitget", "XAUUSDT", "XAU-USDT-PERP", "XAU", "metal", "USDT", False, 1.0, "usdt-futures"
    )
    assert [i.venue_symbol for i in got] == ["BTCUSDT", "ETHUSDT", "XAUUSDT"]


def test_parse_instruments_rejects_malformed_payload() -> None:
    with pytest.raises(ParseError):
        bitget.parse_instruments(b'{"data": {}}', CLASSES)


def test_fallback_derives_inst_type_from_name() -> None:
    assert bitget.fallback("BTCUSD", CLASSES) == Instrument(
        "bitget", "BTCUSD", "BTC-USD-PERP", "BTC", "crypto", "USD", True, 1.0, "coin-futures"
    )
    assert bitget.fallback("SOLPERP", CLASSES) == Instrument(
        "bitget", "SOLPERP", "SOL-USDC-PERP", "SOL", "crypto", "USDC", False, 1.0, "usdc-futures"
    )
    assert bitget.fallback("BTCEUR", CLASSES) is None
    assert bitget.fallback("BTCFDUSD", CLASSES) is None


def test_spec_topics_and_subscribe() -> None:
    liq, prices = bitget.SPEC.streams
    instruments = _book().all()

    assert liq.topics(instruments) == ["usdt-futures"]
    assert liq.topics([]) == ["usdt-futures", "coin-futures", "usdc-futures"]
    assert json.loads(liq.subscribe(["usdt-futures"])[0]) == {
        "op": "subscribe",
        "args": [{"instType": "usdt-futures", "topic": "liquidation"}],
    }
    assert json.loads(prices.subscribe(prices.topics(instruments))[0])["args"][0] == {
        "instType": "usdt-futures",
        "topic": "ticker",
        "symbol": "BTCUSDT",
    }
    assert liq.completeness == "sampled"
    assert liq.heartbeat == bitget.Heartbeat(25.0, "ping")


# --- property tests -------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "0", "-1", "nan", "inf", "1e400", "buy", "sell", "BTCUSDT"])
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


def _outcome(parser: bitget.LiquidationParser | bitget.PriceParser, frame: str | bytes) -> None:
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
    _outcome(bitget.LiquidationParser(BOOK), frame)
    _outcome(bitget.PriceParser(BOOK), frame)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(JSON_FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = json.dumps(_mutate(json.loads(_frame(name)), data))

    _outcome(bitget.LiquidationParser(BOOK), frame)
    _outcome(bitget.PriceParser(BOOK), frame)
