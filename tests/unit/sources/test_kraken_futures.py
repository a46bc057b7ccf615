"""Kraken Futures adapter: golden frames, units, instruments, and property tests.

Real frames: ``trade_fill`` (cryptofeed docstring), ``ticker_update`` (a third-party capture
of the live feed, ssmd schema doc 2026-02). Composed from documented field names (no real
liquidation sample exists): ``trade_liquidation_{linear,inverse}``, ``trade_snapshot``
(documented snapshot + one liquidation row), ``trade_snapshot_empty``, ``event_*``,
``heartbeat``, ``ticker_inverse`` and the ``instruments`` REST response (``PF_XAUUSD`` with
``"tradfi": true`` is an illustrative TradFi row, not a verified listing).
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Liquidation, Tick
from monitor.sources import kraken_futures as kf
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(kf.NAME, "instruments")


def _book() -> InstrumentBook:
    return checks.book(kf, "instruments")


def _parser(name: str) -> kf.TradeParser | kf.TickerParser:
    return kf.TickerParser(_book()) if name.startswith("ticker") else kf.TradeParser(_book())


_frame = functools.partial(checks.text, kf.NAME)


_expected = functools.partial(checks.expected, kf.NAME)


@pytest.mark.parametrize("name", FRAMES)
def test_golden_frame_gives_expected_events(name: str) -> None:
    # Arrange
    frame = _frame(name)
    # Act
    events = _parser(name).parse(frame, TS_RECV_NS)
    # Assert
    assert events == _expected(name)


def test_linear_liquidation_qty_is_base_and_sell_is_long() -> None:
    (liq,) = kf.TradeParser(_book()).parse(_frame("trade_liquidation_linear"), TS_RECV_NS)

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "long"
    assert liq.qty == 0.5
    assert liq.notional_usd == 0.5 * 65368.0
    assert liq.ts_event_ns == 1_770_920_339_688_000_000


def test_inverse_liquidation_qty_is_usd_contracts() -> None:
    (liq,) = kf.TradeParser(_book()).parse(_frame("trade_liquidation_inverse"), TS_RECV_NS)

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "short"
    assert liq.notional_usd == 1135.0  # 1135 contracts × 1 USD
    assert liq.qty == pytest.approx(1135.0 / 11735.0)


def test_snapshot_replay_gives_identical_event_ids() -> None:
    first = kf.TradeParser(_book()).parse(_frame("trade_snapshot"), 1)
    replay = kf.TradeParser(_book()).parse(_frame("trade_snapshot"), 2)

    assert [e.event_id for e in first if isinstance(e, Liquidation)] == [
        e.event_id for e in replay if isinstance(e, Liquidation)
    ]


def test_ticker_funding_is_relative_and_oi_in_usd() -> None:
    (tick,) = kf.TickerParser(_book()).parse(_frame("ticker_update"), TS_RECV_NS)

    assert isinstance(tick, Tick)
    assert tick.price == 1907.459  # markPrice, not last
    assert (tick.bid, tick.ask) == (1907.3, 1907.4)
    assert tick.funding_rate == pytest.approx(-0.005 / 1907.459)
    assert tick.open_interest_usd == pytest.approx(17059.147 * 1907.459)


def test_error_events_raise_parse_error() -> None:
    frame = '{"event":"subscribed_failed","feed":"trade","product_ids":["PF_NOPE"]}'

    with pytest.raises(ParseError, match="error event"):
        kf.TradeParser(_book()).parse(frame, TS_RECV_NS)
    with pytest.raises(ParseError, match="error event"):
        kf.TickerParser(_book()).parse('{"event":"error","message":"x"}', TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"feed":"trade","product_id":"PF_XBTUSD","uid":"u","side":"sell","type":"liquidation",'
        '"time":"1","qty":1,"price":1}',
        '{"feed":"trade","product_id":"PF_XBTUSD","uid":"u","side":"sell","type":"liquidation",'
        '"time":1,"qty":0,"price":1}',
        '{"feed":"trade","product_id":"PF_XBTUSD","uid":"u","side":"up","type":"liquidation",'
        '"time":1,"qty":1,"price":1}',
        '{"feed":"trade","product_id":"FI_XBTUSD_260626","uid":"u","side":"sell",'
        '"type":"liquidation","time":1,"qty":1,"price":1}',
        '{"feed":"trade_snapshot","product_id":"PF_XBTUSD","trades":{}}',
    ],
)
def test_malformed_trade_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        kf.TradeParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        '{"feed":"ticker","product_id":"PF_XBTUSD","time":1}',
        '{"feed":"ticker","product_id":"PF_XBTUSD","time":1,"markPrice":"1"}',
        '{"feed":"ticker","product_id":"PF_XBTUSD","time":1,"markPrice":1,"bid":-1}',
    ],
)
def test_malformed_ticker_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        kf.TickerParser(_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments_keeps_perpetuals() -> None:
    body = checks.payload(kf.NAME, "instruments")

    got = kf.parse_instruments(body, CLASSES)

    assert got == [
        Instrument(
            "kraken_futures", "PF_XBTUSD", "BTC-USD-PERP", "BTC", "crypto", "USD",
            False, 1.0, "flexible_futures",
        ),
        Instrument(
            "kraken_futures", "PF_ETHUSD", "ETH-USD-PERP", "ETH", "crypto", "USD",
            False, 1.0, "flexible_futures",
        ),
        Instrument(
            "kraken_futures", "PI_XBTUSD", "BTC-USD-PERP", "BTC", "crypto", "USD",
            True, 1.0, "inverse_futures",
        ),
        Instrument(
            "kraken_futures", "PF_XAUUSD", "XAU-USD-PERP", "XAU", "metal", "USD",
            False, 1.0, "flexible_futures",
        ),
    ]  # fmt: skip


def test_parse_instruments_rejects_garbage() -> None:
    with pytest.raises(ParseError):
        kf.parse_instruments(b'{"instruments":[{"symbol":"PF_XBTUSD"}]}', CLASSES)


def test_fallback_derives_from_the_name() -> None:
    inverse = kf.fallback("PI_ETHUSD", CLASSES)
    linear = kf.fallback("PF_XBTUSD", CLASSES)

    assert inverse is not None
    assert (inverse.symbol, inverse.inverse, inverse.contract_size) == ("ETH-USD-PERP", True, 1.0)
    assert linear is not None
    assert (linear.symbol, linear.asset, linear.inverse) == ("BTC-USD-PERP", "BTC", False)
    assert kf.fallback("FI_XBTUSD_260626", CLASSES) is None
    assert kf.fallback("PF_", CLASSES) is None


def test_spec_builders() -> None:
    liq, prices = kf.SPEC.streams
    insts = _book().all()

    assert liq.topics(insts) == ["PF_ETHUSD", "PF_XAUUSD", "PF_XBTUSD", "PI_XBTUSD"]
    assert [json.loads(m) for m in liq.subscribe(["PF_XBTUSD"])] == [
        {"event": "subscribe", "feed": "trade", "product_ids": ["PF_XBTUSD"]},
        {"event": "subscribe", "feed": "heartbeat"},
    ]
    assert json.loads(prices.subscribe(["PF_XBTUSD"])[0])["feed"] == "ticker"
    assert liq.url([]) == prices.url([]) == "wss://futures.kraken.com/ws/v1"
    assert kf.SPEC.instruments_urls == (
        "https://futures.kraken.com/derivatives/api/v3/instruments",
    )


# --- property tests -----------------------------------------------------------------------

WORDS = ("liquidation", "sell", "buy", "PF_XBTUSD", "PI_X")


@checks.PROPERTY
@given(checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: bytes | str) -> None:
    checks.outcome_ok(kf.TradeParser(_book()).parse, frame)
    checks.outcome_ok(kf.TickerParser(_book()).parse, frame)


@checks.PROPERTY
@given(name=st.sampled_from(FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(_frame(name), *WORDS, replace_root=True))
    checks.outcome_ok(_parser(name).parse, frame)


@checks.PROPERTY
@given(st.binary(max_size=300))
def test_parse_instruments_gives_list_or_parse_error(body: bytes) -> None:
    checks.instruments_ok(kf.parse_instruments, body)
