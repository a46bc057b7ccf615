"""Tardis.dev CSV history: each row gives the event liqmon's own venue adapter makes of the
venue's real payload (tests/fixtures/payloads), side and USD right per venue."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from monitor.errors import InputError
from monitor.events import Event, Liquidation, Tick
from monitor.io.tardis import read_tardis
from monitor.replay.source import detect_format
from monitor.sources import SOURCES
from monitor.sources.base import InstrumentBook
from monitor.sources.catalogue import read_cache, write_cache
from monitor.sources.frames import parse_frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TARDIS = FIXTURES / "tardis"
PAYLOADS = FIXTURES / "payloads"

# Tardis file → (liqmon venue, the venue's real payload of the same liquidation).
CASES = {
    "binance-futures": ("binance_usdm", "binance_usdm/forceOrder_raw.json"),
    "binance-delivery": ("binance_coinm", "binance_coinm/forceOrder_combined.json"),
    "bybit": ("bybit", "bybit/allLiquidation_linear.json"),
    "okex-swap": ("okx", "okx/liquidation-orders_swap.json"),
    "bitmex": ("bitmex", "bitmex/liquidation_insert_xbtusd.json"),
    "deribit": ("deribit", "deribit/trades_liquidation_taker.json"),
}


def _okx_cache(tmp_path: Path) -> Path:
    """Write the OKX catalogue cache a daemon would have (contract sizes)."""
    venue = SOURCES["okx"]
    assert venue.parse_instruments is not None
    instruments = venue.parse_instruments((PAYLOADS / "okx/instruments_swap.json").read_bytes(), {})
    write_cache(tmp_path, "okx", instruments)
    return tmp_path


def _adapter_events(venue_name: str, payload: str, recv_ns: int, cache: Path) -> list[Event]:

    venue = SOURCES[venue_name]
    stream = next(s for s in venue.streams if s.kind == "liquidations")
    book = InstrumentBook(venue.name, read_cache(cache, venue.name) or (), {}, venue.fallback)
    frame = (PAYLOADS / payload).read_bytes().strip()
    return parse_frame(venue.name, stream, stream.make_parser(book), frame, recv_ns)


def _key(e: Liquidation) -> tuple[object, ...]:
    return (e.exchange, e.symbol, e.asset, e.position_side, round(e.notional_usd, 6), e.ts_event_ns)


@pytest.mark.parametrize("tardis_exchange", sorted(CASES))
def test_rows_give_the_adapters_events(tardis_exchange: str, tmp_path: Path) -> None:
    venue_name, payload = CASES[tardis_exchange]
    cache = _okx_cache(tmp_path)
    got = list(read_tardis(TARDIS / ("%s_liquidations.csv" % tardis_exchange), {}, cache))
    assert len(got) == 1
    (event,) = got
    assert isinstance(event, Liquidation)
    expected = _adapter_events(venue_name, payload, event.ts_recv_ns, cache)
    liquidations = [e for e in expected if isinstance(e, Liquidation)]
    assert [_key(e) for e in liquidations] == [_key(event)]
    assert event.notional_usd > 0


def test_sides_follow_tardis_convention(tmp_path: Path) -> None:
    """Tardis ``buy`` = a short was liquidated; the fixtures hold one of each."""
    sides = {
        name: next(iter(read_tardis(TARDIS / ("%s_liquidations.csv" % name), {}, tmp_path)))
        for name in CASES
    }
    assert {n: e.position_side for n, e in sides.items() if isinstance(e, Liquidation)} == {
        "binance-futures": "long",
        "binance-delivery": "short",
        "bybit": "short",
        "okex-swap": "short",
        "bitmex": "short",
        "deribit": "short",
    }


def test_okx_linear_contract_size_comes_from_the_cache(tmp_path: Path) -> None:
    path = TARDIS / "okex-swap_liquidations.csv"
    cached = next(iter(read_tardis(path, {}, _okx_cache(tmp_path))))
    bare = next(iter(read_tardis(path, {}, None)))
    assert isinstance(cached, Liquidation)
    assert isinstance(bare, Liquidation)
    # IOST-USDT-SWAP: ctVal 1000 IOST per contract in the catalogue; the fallback says 1.
    assert cached.qty == pytest.approx(13 * 1000)
    assert bare.qty == pytest.approx(13)


def test_derivative_ticker_rows_become_ticks_with_open_interest_usd() -> None:
    ticks = list(read_tardis(TARDIS / "binance-futures_derivative_ticker.csv", {}, None))
    assert all(isinstance(t, Tick) for t in ticks)
    assert [(t.price, t.ts_event_ns) for t in ticks if isinstance(t, Tick)] == [
        (70005.3, 1770336000000000000),
        (69895.5, 1770336002000000000),
    ]
    first = ticks[0]
    assert isinstance(first, Tick)
    assert first.open_interest_usd == pytest.approx(80000.5 * 70005.3)
    assert first.symbol == "BTC-USDT-PERP"


def test_auto_detects_tardis_even_gzipped(tmp_path: Path) -> None:
    src = TARDIS / "bybit_liquidations.csv"
    packed = tmp_path / "bybit_liquidations_2024-03-05_BTCUSDT.csv.gz"
    packed.write_bytes(gzip.compress(src.read_bytes()))
    assert detect_format(src) == "tardis"
    assert detect_format(packed) == "tardis"
    assert len(list(read_tardis(packed, {}, None))) == 1


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("bybit,ROSEUSDT,notatime,1,,buy,0.04,1", "bad row"),
        ("bybit,ROSEUSDT,1739502302929000,1739502303210000,,up,0.04,1", "neither buy nor sell"),
        ("bybit,ROSEUSDT,1739502302929000,1739502303210000,,buy,nan,1", "not a positive number"),
        ("bybit,ROSEUSDT,99999999999999999999,1,,buy,0.04,1", "out of range"),
        ("ftx,BTC-PERP,1739502302929000,1739502303210000,,buy,1,1", "not supported"),
        ("bybit,ROSEUSDT,1739502302929000", "columns"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.csv"
    header = (TARDIS / "bybit_liquidations.csv").read_text().splitlines()[0]
    path.write_text("%s\n%s\n" % (header, line))
    with pytest.raises(InputError, match=r"bad\.csv:2: .*%s" % reason):
        list(read_tardis(path, {}, None))


def test_an_unknown_header_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price\n")
    with pytest.raises(InputError, match=r"trades\.csv:1: not a Tardis"):
        list(read_tardis(path, {}, None))
