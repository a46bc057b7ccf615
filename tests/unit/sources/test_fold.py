"""`monitor.sources.fold`: unlisted instruments beyond the quota fold into ``other``.

Driven through a real venue parser (Binance USDⓈ-M ``forceOrder`` and ``markPrice``) with
its real name fallback, so the fold is tested where events get their asset.
"""

from __future__ import annotations

import json

from monitor.events import Liquidation, Tick
from monitor.sources import binance_usdm as venue
from monitor.sources.base import InstrumentBook
from monitor.sources.fold import OTHER, UnknownQuota, split_folded
from tests.unit.sources import _adapter_checks as checks

TS = checks.TS_RECV_NS


def force_order(symbol: str, n: int) -> bytes:
    order = {
        "s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.5", "p": "10",
        "ap": "10", "X": "FILLED", "l": "0.5", "z": "0.5", "T": 1665523974217 + n,
    }  # fmt: skip
    frame = {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": 1, "o": order}}
    return json.dumps(frame).encode()


def mark_price(symbol: str) -> bytes:
    row = {"e": "markPriceUpdate", "E": 1665523974217, "s": symbol, "p": "10", "r": "0.0001"}
    return json.dumps(row).encode()


def book(limit: int, watch: tuple[str, ...] = ("BTC",)) -> InstrumentBook:
    listed = checks.book(venue, "exchangeInfo_rest", classes=checks.CLASSES)
    return InstrumentBook(
        venue.NAME, listed.all(), checks.CLASSES, venue.fallback, UnknownQuota(limit, watch)
    )


def liquidations(b: InstrumentBook, symbols: list[str]) -> list[Liquidation]:
    parser = venue.LiquidationParser(b)
    out = []
    for n, symbol in enumerate(symbols):
        [event] = parser.parse(force_order(symbol, n), TS)
        assert isinstance(event, Liquidation)
        out.append(event)
    return out


def test_unlisted_instruments_beyond_the_quota_fold_and_the_first_keep_their_names() -> None:
    b = book(limit=3)
    unknown = ["ZZ%dUSDT" % i for i in range(10)]
    events = liquidations(b, [*unknown, *unknown])  # the second pass hits the caches

    assets = [e.asset for e in events]
    assert assets[:3] == ["ZZ0", "ZZ1", "ZZ2"]
    assert assets[3:10] == [OTHER] * 7
    assert assets[10:] == assets[:10]  # admitted once, folded ever after
    assert {e.symbol for e in events[3:10]} == {OTHER}
    assert {e.venue_symbol for e in events} == set(unknown)  # the venue's name is kept
    assert sum(e.notional_usd for e in events) == 20 * 5.0  # nothing lost
    assert b.quota is not None
    assert b.quota.admitted == 3
    assert b.folding


def test_listed_and_watched_instruments_never_fold() -> None:
    b = book(limit=0, watch=("BTC", "NEWWATCH"))
    listed = [i.venue_symbol for i in b.all()]
    events = liquidations(b, [*listed, "NEWWATCHUSDT", "OTHERCOINUSDT"])
    assets = [e.asset for e in events]
    assert OTHER not in assets[:-1]
    assert assets[-2] == "NEWWATCH"
    assert assets[-1] == OTHER


def test_folded_ticks_are_dropped_and_folded_liquidations_counted() -> None:
    b = book(limit=1)
    prices = venue.MarkPriceParser(b)
    ticks = [e for s in ("AA1USDT", "AA2USDT") for e in prices.parse(mark_price(s), TS)]
    [liq] = liquidations(b, ["AA3USDT"])
    kept, folded_liqs, folded_ticks = split_folded([*ticks, liq])
    assert [type(e) for e in kept] == [Tick, Liquidation]
    assert kept[0].asset == "AA1"
    assert (folded_liqs, folded_ticks) == (1, 1)


def test_a_book_without_a_quota_remembers_every_name() -> None:
    b = InstrumentBook(venue.NAME, (), checks.CLASSES, venue.fallback)
    events = liquidations(b, ["QQ%dUSDT" % i for i in range(50)])
    assert OTHER not in {e.asset for e in events}
    assert len(b) == 50
    assert not b.folding
