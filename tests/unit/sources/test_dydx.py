"""dYdX v4 adapter: golden frames, ISO times, market state, instruments, property tests.

Real frames: ``v4_trades_connected`` and ``v4_trades_limit`` (EXCHANGES §11),
``v4_markets_subscribed`` (official indexer docs example, trimmed) and
``v4_markets_trading`` (official docs example). Composed from documented field names:
``v4_trades_liquidated`` (the real row shape with ``"type":"LIQUIDATED"``),
``v4_trades_subscribed`` (subscribe snapshot), ``v4_trades_empty``, ``v4_markets_oracle``
(the documented ``OraclePriceMarket`` interface) and ``instruments_perpetualMarkets``.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Liquidation, Tick
from monitor.sources import dydx
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(dydx.NAME, "instruments")


def _book() -> InstrumentBook:
    return checks.book(dydx, "instruments_perpetualMarkets")


def _parser(name: str) -> dydx.TradesParser | dydx.MarketsParser:
    if name.startswith("v4_markets"):
        return dydx.MarketsParser(_book())
    return dydx.TradesParser(_book())


_frame = functools.partial(checks.text, dydx.NAME)


_expected = functools.partial(checks.expected, dydx.NAME)


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
    body = checks.payload(dydx.NAME, "instruments_perpetualMarkets")

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

WORDS = ("LIQUIDATED", "SELL", "2024-01-01T00:00:00Z", "0001-01-01")


@checks.PROPERTY
@given(checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: bytes | str) -> None:
    checks.outcome_ok(dydx.TradesParser(_book()).parse, frame)
    checks.outcome_ok(dydx.MarketsParser(_book()).parse, frame)


@checks.PROPERTY
@given(name=st.sampled_from(FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(_frame(name), *WORDS, replace_root=True))
    checks.outcome_ok(_parser(name).parse, frame)


@checks.PROPERTY
@given(st.binary(max_size=300))
def test_parse_instruments_gives_list_or_parse_error(body: bytes) -> None:
    checks.instruments_ok(dydx.parse_instruments, body)
