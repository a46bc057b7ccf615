"""HTX adapter: golden frames, gzip, pings, instruments, and property tests.

Fixtures: ``tests/fixtures/payloads/htx/`` hold JSON text; HTX sends it GZIP-compressed, so
every frame is gzipped here before parsing. Real frames: ``liquidation_orders_{sub,notify,
ping}`` (EXCHANGES §9), ``detail_{update,sub}`` (HTX doc examples). Composed from documented
field names: ``liquidation_orders_extra`` (no ``amount``, extra keys),
``liquidation_orders_empty``, ``detail_ping`` and ``instruments_swap_contract_info``.
"""

from __future__ import annotations

import functools
import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Liquidation
from monitor.sources import htx
from monitor.sources.base import Instrument, InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(htx.NAME, "instruments")


def _book() -> InstrumentBook:
    return checks.book(htx, "instruments_swap_contract_info")


def _parser(name: str) -> htx.LiquidationParser | htx.DetailParser:
    if name.startswith("liquidation_orders"):
        return htx.LiquidationParser(_book())
    return htx.DetailParser(_book())


def _gz(name: str) -> bytes:
    return gzip.compress(checks.payload(htx.NAME, name))


_expected = functools.partial(checks.expected, htx.NAME)


@pytest.mark.parametrize("name", FRAMES)
def test_golden_frame_gives_expected_events(name: str) -> None:
    # Arrange
    frame = _gz(name)
    # Act
    events = _parser(name).parse(frame, TS_RECV_NS)
    # Assert
    assert events == _expected(name)


@pytest.mark.parametrize("name", FRAMES)
def test_decoded_text_parses_like_the_gzip_frame(name: str) -> None:
    text = htx.decode(_gz(name))

    assert _parser(name).parse(text, TS_RECV_NS) == _expected(name)


def test_notify_row_maps_sell_close_to_long_and_uses_amount() -> None:
    (liq,) = htx.LiquidationParser(_book()).parse(_gz("liquidation_orders_notify"), TS_RECV_NS)

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "long"  # a forced SELL closes a long
    assert liq.qty == 432.0  # `amount`, base units
    assert liq.notional_usd == pytest.approx(339.4656)  # = trade_turnover
    assert liq.ts_event_ns == 1_639_122_193_172_000_000


def test_row_without_amount_uses_volume_times_contract_size() -> None:
    (liq,) = htx.LiquidationParser(_book()).parse(_gz("liquidation_orders_extra"), TS_RECV_NS)

    assert isinstance(liq, Liquidation)
    assert liq.position_side == "short"
    assert liq.qty == pytest.approx(250 * 0.001)
    assert liq.notional_usd == pytest.approx(10750.125)


def test_event_id_is_stable_across_connections() -> None:
    first = htx.LiquidationParser(_book()).parse(_gz("liquidation_orders_notify"), 1)
    again = htx.LiquidationParser(_book()).parse(_gz("liquidation_orders_notify"), 2)

    assert [e.event_id for e in first if isinstance(e, Liquidation)] == [
        e.event_id for e in again if isinstance(e, Liquidation)
    ]


def test_corrupt_gzip_is_a_parse_error() -> None:
    broken = _gz("liquidation_orders_notify")[:-9]

    with pytest.raises(ParseError, match="gzip"):
        htx.decode(broken)
    with pytest.raises(ParseError, match="gzip"):
        htx.LiquidationParser(_book()).parse(broken, TS_RECV_NS)


def test_decode_error_is_also_a_value_error_for_the_runner() -> None:
    with pytest.raises(ValueError, match="gzip"):
        htx.decode(b"\x1f\x8bnot gzip")


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ('{"ping":1492420473027}', '{"pong":1492420473027}'),
        ('{"op":"ping","ts":"1492420473058"}', '{"op":"pong","ts":"1492420473058"}'),
        ('{"op":"notify","data":[]}', None),
        ('{"ping"', None),
        ('["ping"]', None),
    ],
)
def test_reply_answers_both_ping_styles(text: str, reply: str | None) -> None:
    assert htx.reply(text) == reply


@pytest.mark.parametrize(
    "frame",
    [
        b"{not json",
        '{"op":"notify","data":[{"contract_code":"BTC-USDT","direction":"sell","volume":"x",'
        '"price":1,"created_at":1}]}',
        '{"op":"notify","data":{"contract_code":"BTC-USDT"}}',
        '{"op":"notify","data":[{"contract_code":"BTC-USDT","direction":"hold","volume":1,'
        '"price":1,"created_at":1}]}',
        '{"op":"notify","data":[{"contract_code":"BTC-USDT","direction":"sell","volume":1,'
        '"price":-1,"created_at":1}]}',
        '{"op":"notify","data":[{"contract_code":"NOPE","direction":"sell","volume":1,'
        '"price":1,"created_at":1}]}',
    ],
)
def test_malformed_liquidation_frames_raise_parse_error(frame: str | bytes) -> None:
    with pytest.raises(ParseError):
        htx.LiquidationParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    "frame",
    [
        '{"ch":"market.BTC-USDT.detail","ts":1,"tick":{"close":"1"}}',
        '{"ch":"market.BTC-USDT.detail","ts":1,"tick":{"close":0}}',
        '{"ch":"market.BTC-USDT.detail","ts":1,"tick":{"close":1,"bids":["a",1]}}',
    ],
)
def test_malformed_detail_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        htx.DetailParser(_book()).parse(frame, TS_RECV_NS)


@pytest.mark.parametrize(
    ("parser", "frame"),
    [
        (
            htx.LiquidationParser,
            '{"op":"sub","topic":"public.X.liquidation_orders","err-code":2014}',
        ),
        (htx.DetailParser, '{"status":"error","err-code":"bad-request","err-msg":"invalid topic"}'),
    ],
)
def test_venue_error_responses_raise_parse_error(parser: type, frame: str) -> None:
    with pytest.raises(ParseError, match="venue error"):
        parser(_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments_keeps_swaps_only() -> None:
    body = checks.payload(htx.NAME, "instruments_swap_contract_info")

    got = htx.parse_instruments(body, CLASSES)

    assert got == [
        Instrument(
            "htx", "BTC-USDT", "BTC-USDT-PERP", "BTC", "crypto", "USDT", False, 0.001, "swap"
        ),
        Instrument(
            "htx", "ETH-USDT", "ETH-USDT-PERP", "ETH", "crypto", "USDT", False, 0.01, "swap"
        ),
        Instrument("htx", "O3-USDT", "O3-USDT-PERP", "O3", "crypto", "USDT", False, 1.0, "swap"),
        Instrument(
            "htx", "XAUT-USDT", "XAUT-USDT-PERP", "XAUT", "crypto", "USDT", False, 0.001, "swap"
        ),
    ]


def test_parse_instruments_rejects_garbage() -> None:
    with pytest.raises(ParseError):
        htx.parse_instruments(b'{"data":[{"symbol":1}]}', CLASSES)


def test_fallback_derives_from_the_name() -> None:
    assert htx.fallback("SOL-USDT", CLASSES) == Instrument(
        "htx", "SOL-USDT", "SOL-USDT-PERP", "SOL", "crypto", "USDT", False, 1.0, "swap"
    )
    assert htx.fallback("BTC-USDT-260626", CLASSES) is None
    assert htx.fallback("BTCUSDT", CLASSES) is None


def test_spec_builders() -> None:
    liq, prices = htx.SPEC.streams
    insts = _book().all()

    assert liq.topics(insts) == ["public.*.liquidation_orders"]
    assert json.loads(liq.subscribe(["public.*.liquidation_orders"])[0]) == {
        "op": "sub",
        "cid": "liqmon",
        "topic": "public.*.liquidation_orders",
    }
    assert liq.url([]) == "wss://api.hbdm.com/linear-swap-notification"
    assert prices.topics(insts)[0] == "market.BTC-USDT.detail"
    assert json.loads(prices.subscribe(["market.BTC-USDT.detail"])[0])["sub"] == (
        "market.BTC-USDT.detail"
    )
    assert prices.url([]) == "wss://api.hbdm.com/linear-swap-ws"
    assert liq.decode is htx.decode
    assert liq.reply is htx.reply
    assert htx.SPEC.instruments_urls == (
        "https://api.hbdm.com/linear-swap-api/v1/swap_contract_info",
    )


# --- property tests -----------------------------------------------------------------------

WORDS = ("sell", "buy", "notify", "BTC-USDT")


@checks.PROPERTY
@given(checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: bytes | str) -> None:
    for parser in (htx.LiquidationParser(_book()), htx.DetailParser(_book())):
        checks.outcome_ok(parser.parse, frame)
        if isinstance(frame, bytes):
            checks.outcome_ok(parser.parse, gzip.compress(frame))


@checks.PROPERTY
@given(name=st.sampled_from(FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    frame = data.draw(checks.mutated(checks.payload(htx.NAME, name), *WORDS, replace_root=True))
    checks.outcome_ok(_parser(name).parse, gzip.compress(frame.encode()))


@checks.PROPERTY
@given(st.binary(max_size=200))
def test_reply_never_raises(frame: bytes) -> None:
    text = frame.decode("utf-8", "replace")
    assert htx.reply(text) is None or "pong" in (htx.reply(text) or "")
