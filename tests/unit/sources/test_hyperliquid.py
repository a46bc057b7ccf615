"""Hyperliquid adapter (prices only): golden frames, HIP-3 names, instruments, property tests.

Real frames: ``trades_btc`` (Alchemy doc example; no liquidation flag) and ``pong``
(EXCHANGES §12). Composed from the official SDK types (no real sample stored):
``allMids_{core,xyz,empty}``, ``ctx_btc``, ``subscriptionResponse`` and the ``meta``
responses ``instruments_meta`` / ``instruments_meta_xyz``.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.events import Liquidation, Tick
from monitor.sources import hyperliquid as hl
from monitor.sources.base import InstrumentBook
from tests.unit.sources import _adapter_checks as checks

TS_RECV_NS = checks.TS_RECV_NS
CLASSES = checks.SETTINGS_CLASSES

FRAMES = checks.frame_names(hl.NAME, "instruments")


_instruments = functools.partial(
    checks.instruments, hl, ("instruments_meta", "instruments_meta_xyz"), CLASSES
)


def _book() -> InstrumentBook:
    return InstrumentBook(hl.NAME, _instruments(), CLASSES, hl.fallback)


_frame = functools.partial(checks.text, hl.NAME)


_expected = functools.partial(checks.expected, hl.NAME)


@pytest.mark.parametrize("name", FRAMES)
def test_golden_frame_gives_expected_events(name: str) -> None:
    # Arrange
    frame = _frame(name)
    # Act
    events = hl.PriceParser(_book()).parse(frame, TS_RECV_NS)
    # Assert
    assert events == _expected(name)


def test_no_liquidation_stream_and_cannot_says_so() -> None:
    assert {s.kind for s in hl.SPEC.streams} == {"prices"}
    assert "no public liquidation feed" in hl.SPEC.cannot


def test_public_trades_never_give_a_liquidation() -> None:
    events = hl.PriceParser(_book()).parse(_frame("trades_btc"), TS_RECV_NS)

    assert not [e for e in events if isinstance(e, Liquidation)]


def test_all_mids_skip_spot_names_and_map_hip3_metals() -> None:
    core = hl.PriceParser(_book()).parse(_frame("allMids_core"), TS_RECV_NS)
    xyz = hl.PriceParser(_book()).parse(_frame("allMids_xyz"), TS_RECV_NS)

    assert [e.venue_symbol for e in core if isinstance(e, Tick)] == ["BTC", "ETH"]
    assert [(e.symbol, e.asset_class) for e in xyz if isinstance(e, Tick)] == [
        ("XAU-USD-PERP", "metal"),
        ("TSLA-USD-PERP", "equity"),
    ]


def test_asset_ctx_gives_mark_funding_and_oi() -> None:
    (tick,) = hl.PriceParser(_book()).parse(_frame("ctx_btc"), TS_RECV_NS)

    assert isinstance(tick, Tick)
    assert tick.price == 72580.0  # markPx, not the mid
    assert tick.funding_rate == 0.0000125
    assert tick.open_interest_usd == pytest.approx(25000.5 * 72580.0)


@pytest.mark.parametrize(
    "frame",
    [
        "]",
        '{"channel":"error","data":"Invalid subscription"}',
        '{"channel":"allMids","data":{"mids":{"BTC":"abc"}}}',
        '{"channel":"allMids","data":{"mids":{"BTC":"-3"}}}',
        '{"channel":"allMids","data":{"mids":{"BTC":1.5}}}',
        '{"channel":"allMids","data":[]}',
        '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"markPx":"1","funding":"x"}}}',
        '{"channel":"activeAssetCtx","data":{"coin":"@1","ctx":{"markPx":"1"}}}',
    ],
)
def test_malformed_frames_raise_parse_error(frame: str) -> None:
    with pytest.raises(ParseError):
        hl.PriceParser(_book()).parse(frame, TS_RECV_NS)


def test_parse_instruments_skips_delisted_and_maps_hip3() -> None:
    assert [
        (i.venue_symbol, i.symbol, i.asset, i.asset_class, i.category) for i in _instruments()
    ] == [
        ("BTC", "BTC-USD-PERP", "BTC", "crypto", "core"),
        ("ETH", "ETH-USD-PERP", "ETH", "crypto", "core"),
        ("xyz:GOLD", "XAU-USD-PERP", "XAU", "metal", "xyz"),
        ("xyz:SILVER", "XAG-USD-PERP", "XAG", "metal", "xyz"),
        ("xyz:TSLA", "TSLA-USD-PERP", "TSLA", "equity", "xyz"),
    ]


def test_parse_instruments_accepts_meta_and_asset_ctxs() -> None:
    meta = checks.text(hl.NAME, "instruments_meta")
    body = ('[%s, [{"markPx": "1"}]]' % meta).encode()

    assert [i.venue_symbol for i in hl.parse_instruments(body, CLASSES)] == ["BTC", "ETH"]


def test_fallback_derives_from_the_name() -> None:
    gold = hl.fallback("cash:GOLD", CLASSES)

    assert gold is not None
    assert (gold.symbol, gold.asset_class) == ("XAU-USD-PERP", "metal")
    assert hl.fallback("@107", CLASSES) is None
    assert hl.fallback("PURR/USDC", CLASSES) is None
    assert hl.fallback(":GOLD", CLASSES) is None


def test_spec_builders_and_heartbeat() -> None:
    mids, ctx = hl.SPEC.streams
    insts = _instruments()

    assert mids.topics(insts) == ["allMids", "allMids:xyz"]
    assert [json.loads(m) for m in mids.subscribe(["allMids", "allMids:xyz"])] == [
        {"method": "subscribe", "subscription": {"type": "allMids"}},
        {"method": "subscribe", "subscription": {"type": "allMids", "dex": "xyz"}},
    ]
    assert json.loads(ctx.subscribe(ctx.topics(insts)[2:3])[0]) == {
        "method": "subscribe",
        "subscription": {"type": "activeAssetCtx", "coin": "xyz:GOLD"},
    }
    assert mids.heartbeat is not None
    assert (mids.heartbeat.interval_s, json.loads(mids.heartbeat.payload)) == (
        50.0,
        {"method": "ping"},
    )
    assert hl.SPEC.instruments_urls == ("https://api.hyperliquid.xyz/info",)


# --- property tests -----------------------------------------------------------------------

WORDS = ("BTC", "xyz:GOLD", "allMids", ":")


def _outcome(frame: str | bytes) -> None:
    for event in checks.outcome_ok(hl.PriceParser(_book()).parse, frame):
        assert isinstance(event, Tick)


@checks.PROPERTY
@given(checks.arbitrary())
def test_arbitrary_input_gives_events_or_parse_error(frame: bytes | str) -> None:
    _outcome(frame)


@checks.PROPERTY
@given(name=st.sampled_from(FRAMES), data=st.data())
def test_mutated_real_frames_give_events_or_parse_error(name: str, data: st.DataObject) -> None:
    _outcome(data.draw(checks.mutated(_frame(name), *WORDS, replace_root=True)))


@checks.PROPERTY
@given(st.binary(max_size=300))
def test_parse_instruments_gives_list_or_parse_error(body: bytes) -> None:
    checks.instruments_ok(hl.parse_instruments, body)
