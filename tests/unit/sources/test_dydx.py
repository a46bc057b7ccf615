"""dYdX v4 adapter: golden frames, ISO times, market state, instruments, property tests.

Real frames: ``v4_trades_connected`` and ``v4_trades_limit`` (EXCHANGES §11),
``v4_markets_subscribed`` (official indexer docs example, trimmed) and
``v4_markets_trading`` (official docs example). Composed from documented field names:
``v4_trades_liquidated`` (the real row shape with ``"type":"LIQUIDATED"``),
``v4_trades_subscribed`` (subscribe snapshot), ``v4_trades_empty``, ``v4_markets_oracle``
(the documented ``OraclePriceMarket`` interface) and ``instruments_perpetualMarkets``.
"""

from __future__ import annotations

import contextlib
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
from monitor.sources import dydx
from monitor.sources.base import Instrument, InstrumentBook

FIXTURES = Path(__file__).parents[2] / "fixtures"
PAYLOADS = FIXTURES / "payloads" / "dydx"
EXPECTED = FIXTURES / "expected" / "dydx"
TS_RECV_NS = 1_700_000_000_000_000_000
CLASSES = AssetSettings().classes
FRAMES = sorted(p.stem for p in PAYLOADS.glob("*.json") if not p.stem.startswith("instruments"))


def _book() -> InstrumentBook:
    body = (PAYLOADS / "instruments_perpetualMarkets.json").read_bytes()
    return InstrumentBook("dydx", dydx.parse_instruments(body, CLASSES), CLASSES, dydx.fallback)


def _parser(name: str) -> dydx.TradesParser | dydx.MarketsParser:
    if name.startswith("v4_markets"):
        return dydx.MarketsParser(_book())
    return dydx.TradesParser(_book())


def _frame(name: str) -> str:
    return (PAYLOADS / ("%s.json" % name)).read_text()


def _expected(name: str) -> list[Event]:
    lines = (EXPECTED / ("%s.jsonl" % name)).read_bytes().splitlines()
    return [codec.decode(line) for line in lines if line]


@pytest.mark.parametrize("name", FRAMES)
def test_golden_frame_gives_expected_events(name: str) -> None:
    # Arrange
    frame = _frame(name)
    # Act
    events = _parser(name).parse(frame, TS_RECV_NS)
    # Assert
    assert events == _expected(name)


def test_liquidated_row_sell_is_long_and_time_is_iso() -> None:
    (liq,) = dydx.TradesParser(_book()).parse(_frame("v4_trades_liquidated"), TS_RECV_NS)

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "long"
    assert (liq.qty, liq.price, liq.notional_usd) == (0.25, 60100.0, 15025.0)
    assert liq.ts_event_ns == 1_724_371_262_500_000_000  # 2024-08-23T00:01:02.500Z


def test_subscribe_snapshot_is_emitted_with_stable_ids() -> None:
    first = dydx.TradesParser(_book()).parse(_frame("v4_trades_subscribed"), 1)
    replay = dydx.TradesParser(_book()).parse(_frame("v4_trades_subscribed"), 2)

    assert [e.event_id for e in first if isinstance(e, Liquidation)] == [
        "dydx:ETH-USD:0165e5ff0000000200000003"
    ]
    assert [e.event_id for e in replay if isinstance(e, Liquidation)] == [
        "dydx:ETH-USD:0165e5ff0000000200000003"
    ]


def test_markets_state_carries_funding_and_oi_into_oracle_ticks() -> None:
    # Arrange: one parser, as on one connection
    parser = dydx.MarketsParser(_book())
    parser.parse(_frame("v4_markets_subscribed"), TS_RECV_NS)
    parser.parse(_frame("v4_markets_trading"), TS_RECV_NS)
    # Act
    (tick,) = parser.parse(_frame("v4_markets_oracle"), TS_RECV_NS)
    # Assert
    assert isinstance(tick, Tick)
    assert tick.price == 27760.1
    assert tick.funding_rate == pytest.approx(0.00006821875)
    assert tick.open_interest_usd == pytest.approx(1891.473716288 * 27760.1)
    assert tick.ts_event_ns == 1_680_568_160_123_000_000


@pytest.mark.parametrize(
    "frame",
    [
        "{",
        '{"type":"channel_data","channel":"v4_trades","id":"BTC-USD","contents":{"trades":'
        '[{"id":"a","side":"SELL","size":"x","price":"1","createdAt":"2024-01-01T00:00:00Z",'
        '"type":"LIQUIDATED"}]}}',
        '{"type":"channel_data","channel":"v4_trades","id":"BTC-USD","contents":{"trades":'
        '[{"id":"a","side":"SELL","size":"1","price":"1","createdAt":"2024-01-01T00:00:00",'
        '"type":"LIQUIDATED"}]}}',
        '{"type":"channel_data","channel":"v4_trades","id":"BTC-USD","contents":{"trades":'
        '[{"id":"a","side":"SELL","size":"1","price":"NaN","createdAt":"2024-01-01T00:00:00Z",'
        '"type":"LIQUIDATED"}]}}',
        '{"type":"channel_data","channel":"v4_trades","id":"BTC-USD","contents":{"trades":'
        '[{"id":"a","side":"SELL","size":1,"price":"1","createdAt":"2024-01-01T00:00:00Z",'
        '"type":"LIQUIDATED"}]}}',
        '{"type":"channel_data","channel":"v4_trades","id":"BTC","contents":{"trades":'
        '[{"id":"a","side":"SELL","size":"1","price":"1","createdAt":"2024-01-01T00:00:00Z",'
        '"type":"LIQUIDATED"}]}}',
    ],
)
def test_malformed_trade_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        dydx.TradesParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"channel_data","channel":"v4_markets","contents":{"oraclePrices":'
        '{"BTC-USD":{"price":"0","effectiveAt":"2024-01-01T00:00:00Z"}}}}',
        '{"type":"channel_data","channel":"v4_markets","contents":{"trading":'
        '{"BTC-USD":{"nextFundingRate":"inf"}}}}',
        '{"type":"channel_data","channel":"v4_markets","contents":{"markets":[]}}',
    ],
)
def test_malformed_markets_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        dydx.MarketsParser(_book()).parse(frame, TS_RECV_NS)


def test_venue_error_message_raises_parse_error() -> None:
    frame = (
        '{"type":"error","message":"Invalid subscribe message","connection_id":"c","message_id":1}'
    )

    with pytest.raises(ParseError, match="venue error"):
        dydx.TradesParser(_book()).parse(frame, TS_RECV_NS)
    with pytest.raises(ParseError, match="venue error"):
        dydx.MarketsParser(_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments_skips_final_settlement() -> None:
    body = (PAYLOADS / "instruments_perpetualMarkets.json").read_bytes()

    got = dydx.parse_instruments(body, CLASSES)

    assert got == [
        Instrument("dydx", "BTC-USD", "BTC-USD-PERP", "BTC", "crypto", "USD", category="perpetual"),
        Instrument("dydx", "ETH-USD", "ETH-USD-PERP", "ETH", "crypto", "USD", category="perpetual"),
        Instrument(
            "dydx", "PAXG-USD", "PAXG-USD-PERP", "PAXG", "crypto", "USD", category="perpetual"
        ),
    ]


def test_fallback_derives_from_the_name() -> None:
    inst = dydx.fallback("SOL-USD", CLASSES)

    assert inst is not None
    assert (inst.symbol, inst.asset, inst.quote, inst.contract_size) == (
        "SOL-USD-PERP",
        "SOL",
        "USD",
        1.0,
    )
    assert dydx.fallback("SOLUSD", CLASSES) is None


def test_spec_builders() -> None:
    liq, prices = dydx.SPEC.streams

    assert liq.topics(_book().all()) == ["BTC-USD", "ETH-USD", "PAXG-USD"]
    assert json.loads(liq.subscribe(["BTC-USD"])[0]) == {
        "type": "subscribe",
        "channel": "v4_trades",
        "id": "BTC-USD",
    }
    assert prices.topics(_book().all()) == ["v4_markets"]
    assert json.loads(prices.subscribe(["v4_markets"])[0]) == {
        "type": "subscribe",
        "channel": "v4_markets",
    }
    assert liq.url([]) == "wss://indexer.dydx.trade/v4/ws"
    assert dydx.SPEC.instruments_urls == ("https://indexer.dydx.trade/v4/perpetualMarkets",)


# --- property tests -----------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(
        [
            "NaN",
            "inf",
            "-1",
            "0",
            "1e400",
            "LIQUIDATED",
            "SELL",
            "2024-01-01T00:00:00Z",
            "0001-01-01",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> tuple[str, str]:
    name = draw(st.sampled_from(names))
    obj = json.loads(_frame(name))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(obj)))
        if not path:
            obj = draw(VALUES)
            continue
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(VALUES)
    return name, json.dumps(obj)


def _check(events: list[Event]) -> None:
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


def _outcome(parser: dydx.TradesParser | dydx.MarketsParser, frame: str | bytes) -> None:
    try:
        events = parser.parse(frame, TS_RECV_NS)
    except ParseError:
        return
    _check(events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_input_gives_events_or_parse_error(frame: bytes | str) -> None:
    _outcome(dydx.TradesParser(_book()), frame)
    _outcome(dydx.MarketsParser(_book()), frame)


@settings(max_examples=200, deadline=None)
@given(mutated(FRAMES))
def test_mutated_real_frames_give_events_or_parse_error(case: tuple[str, str]) -> None:
    name, text = case
    _outcome(_parser(name), text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_instruments_gives_list_or_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert isinstance(dydx.parse_instruments(body, CLASSES), list)
