"""Gate adapter: golden frames, s/ms timestamps, size signs, instruments, property tests.

Real frames (EXCHANGES §8): ``subscribe_ack``, ``update_ms_string_size``,
``update_ms_integer_size``, ``update_legacy_seconds`` (doc examples; their BTC_USDT price
215.1 is the docs' placeholder). Composed from documented field names (no real sample):
``update_positive_size``, ``update_empty``, ``pong``, ``error``, ``tickers_update``,
``book_ticker_update`` and ``rest_contracts``.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick
from monitor.sources import gate
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(gate.NAME, "rest_")
PRICE_FRAMES = {"tickers_update", "book_ticker_update"}
PRIMING = {"tickers_update": ["book_ticker_update"]}  # stateful: frames sent before


def _book() -> InstrumentBook:
    return checks.book(gate, "rest_contracts")


def _parser(name: str) -> gate.LiquidationParser | gate.PriceParser:
    if name in PRICE_FRAMES:
        return gate.PriceParser(_book())
    return gate.LiquidationParser(_book())


_frame = functools.partial(checks.text, gate.NAME)


_expected = functools.partial(checks.expected, gate.NAME)


def golden_events(name: str) -> list[Event]:
    """Parse fixture `name` after its priming frames (also used to write the goldens)."""
    parser = _parser(name)
    for prior in PRIMING.get(name, []):
        parser.parse(_frame(prior), TS_RECV_NS)
    return parser.parse(_frame(name), TS_RECV_NS)


@pytest.mark.parametrize("name", [n for n in FRAMES if n != "error"])
def test_golden_frame_gives_expected_events(name: str) -> None:
    assert golden_events(name) == _expected(name)


def test_bytes_frame_parses_like_text() -> None:
    frame = checks.payload(gate.NAME, "update_ms_string_size")

    assert gate.LiquidationParser(_book()).parse(frame, TS_RECV_NS) == _expected(
        "update_ms_string_size"
    )


def test_negative_size_is_a_long_scaled_by_quanto_multiplier() -> None:
    first, second = golden_events("update_ms_string_size")

    assert isinstance(first, Liquidation)
    assert isinstance(second, Liquidation)
    assert first.position_side == "long"  # size < 0: a forced sell
    assert first.qty == pytest.approx(124.5 * 0.0001)
    assert first.notional_usd == pytest.approx(124.5 * 0.0001 * 215.1)
    assert first.ts_event_ns == 1_541_486_601_123_000_000
    assert second.ts_event_ns == 1_541_486_601_456_000_000


def test_positive_size_is_a_short() -> None:
    (liq,) = golden_events("update_positive_size")

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "short"
    assert liq.qty == pytest.approx(2.5)  # 250 contracts × 0.01 ETH


def test_legacy_seconds_time_is_scaled_to_ns() -> None:
    (liq,) = golden_events("update_legacy_seconds")

    assert liq.ts_event_ns == 1_541_486_601 * 1_000_000_000


def test_book_ticker_feeds_bid_ask_of_the_next_tick() -> None:
    (tick,) = golden_events("tickers_update")

    assert isinstance(tick, Tick)
    assert (tick.bid, tick.ask) == (118000.1, 118000.2)
    assert tick.price == 118000.5  # mark price
    assert tick.open_interest_usd == pytest.approx(73648 * 0.0001 * 118000.5)


def test_error_reply_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="unknown contract FOO_USDT"):
        gate.LiquidationParser(_book()).parse(_frame("error"), TS_RECV_NS)


def test_contract_missing_from_catalogue_raises() -> None:
    frame = _frame("update_positive_size").replace("ETH_USDT", "NEW_USDT")

    with pytest.raises(ParseError, match="NEW_USDT"):
        gate.LiquidationParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    "result",
    [
        '[{"price":"1","size":"x","time":1,"contract":"BTC_USDT"}]',
        '[{"price":"1","size":"0","time":1,"contract":"BTC_USDT"}]',
        '[{"price":"-1","size":"1","time":1,"contract":"BTC_USDT"}]',
        '[{"price":"1","size":"1","contract":"BTC_USDT"}]',
        '[{"price":"1","size":"1","time":-5,"contract":"BTC_USDT"}]',
        '[{"price":[1],"size":"1","time":1,"contract":"BTC_USDT"}]',
        '{"price":"1"}',
    ],
)
def test_wrong_typed_rows_raise(result: str) -> None:
    frame = '{"channel":"futures.public_liquidates","event":"update","result":%s}' % result

    with pytest.raises(ParseError):
        gate.LiquidationParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize("frame", ["{not json", "", "[]", '{"channel": 5}'])
def test_malformed_json_raises(frame: str) -> None:
    with pytest.raises(ParseError):
        gate.LiquidationParser(_book()).parse(frame, TS_RECV_NS)
    with pytest.raises(ParseError):
        gate.PriceParser(_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments_reads_quanto_multiplier() -> None:
    body = checks.payload(gate.NAME, "rest_contracts")

    got = gate.parse_instruments(body, CLASSES)

    assert [(i.venue_symbol, i.symbol, i.contract_size) for i in got] == [
        ("BTC_USDT", "BTC-USDT-PERP", 0.0001),
        ("ETH_USDT", "ETH-USDT-PERP", 0.01),
        ("XAUT_USDT", "XAUT-USDT-PERP", 0.001),
        ("PEPE_USDT", "PEPE-USDT-PERP", 10_000_000.0),
    ]
    assert got[0] == Instrument(
        "gate", "BTC_USDT", "BTC-USDT-PERP", "BTC", "crypto", "USDT", False, 0.0001, "usdt"
    )


def test_parse_instruments_rejects_malformed_payload() -> None:
    with pytest.raises(ParseError):
        gate.parse_instruments(b"{}", CLASSES)


def test_fallback_refuses_to_guess_a_contract_size() -> None:
    assert gate.fallback("BTC_USDT", CLASSES) is None


def test_spec_topics_and_subscribe() -> None:
    liq, prices = gate.SPEC.streams
    instruments = _book().all()

    assert liq.topics(instruments) == ["futures.public_liquidates:!all"]
    (sub,) = liq.subscribe(liq.topics(instruments))
    msg = json.loads(sub)
    assert msg["channel"] == "futures.public_liquidates"
    assert msg["event"] == "subscribe"
    assert msg["payload"] == ["!all"]
    assert isinstance(msg["time"], int)
    channels = [json.loads(m)["channel"] for m in prices.subscribe(prices.topics(instruments))]
    assert channels == ["futures.tickers", "futures.book_ticker"]
    assert liq.heartbeat == gate.Heartbeat(15.0, '{"channel":"futures.ping"}')


# --- property tests -------------------------------------------------------------------

BOOK = _book()
WORDS = ("-124.5", "BTC_USDT", "update")


@checks.PROPERTY
@given(frame=checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: str | bytes) -> None:
    checks.outcome_ok(gate.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(gate.PriceParser(BOOK).parse, frame)


@checks.PROPERTY
@given(name=st.sampled_from(FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(_frame(name), *WORDS))
    price_parser = gate.PriceParser(BOOK)
    price_parser.parse(_frame("book_ticker_update"), TS_RECV_NS)

    checks.outcome_ok(gate.LiquidationParser(BOOK).parse, frame)
    checks.outcome_ok(price_parser.parse, frame)
