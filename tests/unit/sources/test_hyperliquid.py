"""Hyperliquid adapter (prices only): golden frames, HIP-3 names, instruments, property tests.

Real frames: ``trades_btc`` (Alchemy doc example; no liquidation flag) and ``pong``
(EXCHANGES §12). Composed from the official SDK types (no real sample stored):
``allMids_{core,xyz,empty}``, ``ctx_btc``, ``subscriptionResponse`` and the ``meta``
responses ``instruments_meta`` / ``instruments_meta_xyz``.
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
from monitor.sources import hyperliquid as hl
from monitor.sources.base import Instrument, InstrumentBook

FIXTURES = Path(__file__).parents[2] / "fixtures"
PAYLOADS = FIXTURES / "payloads" / "hyperliquid"
EXPECTED = FIXTURES / "expected" / "hyperliquid"
TS_RECV_NS = 1_700_000_000_000_000_000
CLASSES = AssetSettings().classes
FRAMES = sorted(p.stem for p in PAYLOADS.glob("*.json") if not p.stem.startswith("instruments"))


def _instruments() -> list[Instrument]:
    out: list[Instrument] = []
    for name in ("instruments_meta", "instruments_meta_xyz"):
        out += hl.parse_instruments((PAYLOADS / ("%s.json" % name)).read_bytes(), CLASSES)
    return out


def _book() -> InstrumentBook:
    return InstrumentBook("hyperliquid", _instruments(), CLASSES, hl.fallback)


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
    meta = (PAYLOADS / "instruments_meta.json").read_text()
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

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["NaN", "inf", "-1", "0", "1e400", "BTC", "xyz:GOLD", "allMids", ":"]),
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
def mutated(draw: st.DrawFn, names: list[str]) -> str:
    obj = json.loads(_frame(draw(st.sampled_from(names))))
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
    return json.dumps(obj)


def _outcome(frame: str | bytes) -> None:
    try:
        events = hl.PriceParser(_book()).parse(frame, TS_RECV_NS)
    except ParseError:
        return
    for event in events:
        assert isinstance(event, Tick)
        assert math.isfinite(event.price)
        assert event.price > 0
        assert event.ts_event_ns > 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_input_gives_events_or_parse_error(frame: bytes | str) -> None:
    _outcome(frame)


@settings(max_examples=200, deadline=None)
@given(mutated(FRAMES))
def test_mutated_real_frames_give_events_or_parse_error(text: str) -> None:
    _outcome(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_instruments_gives_list_or_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert isinstance(hl.parse_instruments(body, CLASSES), list)
