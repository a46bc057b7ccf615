"""Deribit adapter: golden frames, M/T/MT sides, heartbeats, instruments, property tests.

Real frames (EXCHANGES §6): ``trades_no_liquidation`` (cryptofeed docstring) and
``trades_liquidation_taker`` (composed by EXCHANGES from documented fields with a docs row's
values). Composed from documented field names (no real sample): ``trades_liquidation_maker``,
``trades_liquidation_both``, ``trades_empty``, ``subscribe_result``, ``set_heartbeat_result``,
``heartbeat_test_request``, ``test_result``, ``error``, ``ticker_perpetual``,
``ticker_linear`` and ``rest_get_instruments``.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick
from monitor.sources import deribit
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(deribit.NAME, "rest_")


def _book() -> InstrumentBook:
    return checks.book(deribit, "rest_get_instruments")


def _parser(name: str) -> deribit.LiquidationParser | deribit.PriceParser:
    if name.startswith("ticker"):
        return deribit.PriceParser(_book())
    return deribit.LiquidationParser(_book())


_frame = functools.partial(checks.text, deribit.NAME)


_expected = functools.partial(checks.expected, deribit.NAME)


def golden_events(name: str) -> list[Event]:
    """Parse fixture `name` (also used to write the goldens)."""
    return _parser(name).parse(_frame(name), TS_RECV_NS)


@pytest.mark.parametrize("name", [n for n in FRAMES if n != "error"])
def test_golden_frame_gives_expected_events(name: str) -> None:
    assert golden_events(name) == _expected(name)


@pytest.mark.parametrize("name", [n for n in FRAMES if n != "error"])
def test_price_parser_ignores_trades_and_liquidation_parser_ignores_tickers(name: str) -> None:
    other = (
        deribit.LiquidationParser(_book())
        if name.startswith("ticker")
        else deribit.PriceParser(_book())
    )

    assert other.parse(checks.payload(deribit.NAME, name), TS_RECV_NS) == []


def test_taker_buy_liquidation_is_a_short_in_usd() -> None:
    (liq,) = golden_events("trades_liquidation_taker")

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "short"  # the taker's forced buy closed a short
    assert liq.notional_usd == 20.0  # inverse: amount is USD
    assert liq.qty == pytest.approx(20 / 8960)
    assert liq.ts_event_ns == 1_590_484_513_004_000_000


def test_maker_liquidation_is_opposite_of_taker_direction() -> None:
    (liq,) = golden_events("trades_liquidation_maker")

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "short"  # taker sold, so the liquidated maker bought


def test_both_sides_liquidated_gives_two_events_in_base_units() -> None:
    taker, maker = golden_events("trades_liquidation_both")

    assert isinstance(taker, Liquidation)
    assert isinstance(maker, Liquidation)
    assert (taker.position_side, maker.position_side) == ("long", "short")
    assert taker.qty == maker.qty == 0.5  # linear: amount is BTC
    assert taker.notional_usd == 30_000.0
    assert taker.event_id != maker.event_id


def test_linear_ticker_scales_open_interest_and_drops_zero_bid() -> None:
    (tick,) = golden_events("ticker_linear")

    assert isinstance(tick, Tick)
    assert tick.bid is None
    assert tick.open_interest_usd == 12.5 * 60010
    assert tick.funding_rate == 0.0


def test_reply_answers_test_request_only() -> None:
    assert deribit.reply(_frame("heartbeat_test_request")) == deribit.TEST_REPLY
    assert json.loads(deribit.TEST_REPLY)["method"] == "public/test"
    assert (
        deribit.reply('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}')
        is None
    )
    assert deribit.reply(_frame("trades_liquidation_taker")) is None


def test_error_reply_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="Invalid params"):
        deribit.LiquidationParser(_book()).parse(_frame("error"), TS_RECV_NS)


@pytest.mark.parametrize(
    "row",
    [
        '{"trade_id":"1","instrument_name":"BTC-PERPETUAL","timestamp":1,"price":0,"amount":1,"direction":"buy","liquidation":"T"}',
        '{"trade_id":"1","instrument_name":"BTC-PERPETUAL","timestamp":1,"price":1,"amount":-1,"direction":"buy","liquidation":"T"}',
        '{"trade_id":"1","instrument_name":"BTC-PERPETUAL","timestamp":1,"price":1,"amount":1,"direction":"up","liquidation":"T"}',
        '{"trade_id":"1","instrument_name":"BTC-PERPETUAL","timestamp":1,"price":1,"amount":1,"direction":"buy","liquidation":"X"}',
        '{"trade_id":"1","instrument_name":"BTC-PERPETUAL","timestamp":"1","price":1,"amount":1,"direction":"buy"}',
        '{"trade_id":"1","instrument_name":"BTC-PERPETUAL","timestamp":-1,"price":1,"amount":1,"direction":"buy","liquidation":"T"}',
        '{"trade_id":"1","instrument_name":"BTC-27DEC24","timestamp":1,"price":1,"amount":1,"direction":"buy","liquidation":"T"}',
    ],
)
def test_wrong_typed_trade_rows_raise(row: str) -> None:
    frame = '{"method":"subscription","params":{"channel":"trades.x.100ms","data":[%s]}}' % row

    with pytest.raises(ParseError):
        deribit.LiquidationParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize("frame", ["{not json", "", "[]", '{"method": 1}'])
def test_malformed_json_raises(frame: str) -> None:
    with pytest.raises(ParseError):
        deribit.LiquidationParser(_book()).parse(frame, TS_RECV_NS)
    with pytest.raises(ParseError):
        deribit.PriceParser(_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments_keeps_perpetuals() -> None:
    body = checks.payload(deribit.NAME, "rest_get_instruments")

    got = deribit.parse_instruments(body, CLASSES)

    assert got == [
        Instrument(
            "deribit",
            "BTC-PERPETUAL",
            "BTC-USD-PERP",
            "BTC",
            "crypto",
            "USD",
            True,
            10.0,
            "inverse",
        ),
        Instrument(
            "deribit", "ETH-PERPETUAL", "ETH-USD-PERP", "ETH", "crypto", "USD", True, 1.0, "inverse"
        ),
        Instrument(
            "deribit",
            "BTC_USDC-PERPETUAL",
            "BTC-USDC-PERP",
            "BTC",
            "crypto",
            "USDC",
            False,
            0.001,
            "linear",
        ),
        Instrument(
            "deribit",
            "PAXG_USDC-PERPETUAL",
            "PAXG-USDC-PERP",
            "PAXG",
            "crypto",
            "USDC",
            False,
            0.001,
            "linear",
        ),
    ]


def test_parse_instruments_rejects_malformed_payload() -> None:
    with pytest.raises(ParseError):
        deribit.parse_instruments(b'{"result": 1}', CLASSES)


def test_fallback_derives_perpetuals_from_names() -> None:
    assert deribit.fallback("SOL_USDC-PERPETUAL", CLASSES) == Instrument(
        "deribit",
        "SOL_USDC-PERPETUAL",
        "SOL-USDC-PERP",
        "SOL",
        "crypto",
        "USDC",
        False,
        1.0,
        "linear",
    )
    assert deribit.fallback("XRP-PERPETUAL", CLASSES) == Instrument(
        "deribit", "XRP-PERPETUAL", "XRP-USD-PERP", "XRP", "crypto", "USD", True, 1.0, "inverse"
    )
    assert deribit.fallback("BTC-27DEC24", CLASSES) is None
    assert deribit.fallback("-PERPETUAL", CLASSES) is None


def test_spec_subscribes_with_heartbeat_first() -> None:
    liq, prices = deribit.SPEC.streams
    instruments = _book().all()

    topics = liq.topics(instruments)
    heartbeat, sub = (json.loads(m) for m in liq.subscribe(topics))

    assert topics[0] == "trades.BTC-PERPETUAL.100ms"
    assert prices.topics(instruments)[0] == "ticker.BTC-PERPETUAL.100ms"
    assert heartbeat["method"] == "public/set_heartbeat"
    assert heartbeat["params"] == {"interval": 30}
    assert sub["method"] == "public/subscribe"
    assert sub["params"]["channels"] == topics
    assert liq.reply is deribit.reply


# --- property tests -------------------------------------------------------------------

BOOK = _book()
WORDS = ("M", "T", "MT", "sell", "buy", "BTC-PERPETUAL", "subscription")


@checks.PROPERTY
@given(frame=checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: str | bytes) -> None:
    checks.outcome_ok(deribit.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(deribit.PriceParser(BOOK).parse, frame)
    if isinstance(frame, str):
        deribit.reply(frame)


@checks.PROPERTY
@given(name=st.sampled_from(FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(_frame(name), *WORDS))

    checks.outcome_ok(deribit.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(deribit.PriceParser(BOOK).parse, frame)
