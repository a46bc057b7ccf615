"""Bitget v3 adapter: golden frames, position-side inversion, instruments, property tests.

Real frames (EXCHANGES §7): ``liquidation_subscribe_ack``, ``liquidation_update`` and
``pong``. Composed from documented field names (no real sample):
``liquidation_snapshot_multi``, ``liquidation_usdc``, ``liquidation_empty``, ``error``,
``ticker_snapshot`` (v3 ticker field names, UNCERTAIN) and ``rest_instruments``.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick
from monitor.sources import bitget
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(bitget.NAME, "rest_")


def _book() -> InstrumentBook:
    return checks.book(bitget, "rest_instruments")


def _parser(name: str) -> bitget.LiquidationParser | bitget.PriceParser:
    if name.startswith("ticker"):
        return bitget.PriceParser(_book())
    return bitget.LiquidationParser(_book())


_frame = functools.partial(checks.text, bitget.NAME)


_expected = functools.partial(checks.expected, bitget.NAME)


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
    body = checks.payload(bitget.NAME, "rest_instruments")

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

BOOK = _book()
JSON_FRAMES = [n for n in FRAMES if n != "pong"]
WORDS = ("buy", "sell", "BTCUSDT")


@checks.PROPERTY
@given(frame=checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: str | bytes) -> None:
    checks.outcome_ok(bitget.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(bitget.PriceParser(BOOK).parse, frame)


@checks.PROPERTY
@given(name=st.sampled_from(JSON_FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(_frame(name), *WORDS))

    checks.outcome_ok(bitget.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(bitget.PriceParser(BOOK).parse, frame)
