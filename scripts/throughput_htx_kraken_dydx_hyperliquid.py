"""Frames/s of the htx, kraken_futures, dydx and hyperliquid parsers on one core (run by hand).

Usage: ``.venv/bin/python scripts/throughput_htx_kraken_dydx_hyperliquid.py [N]`` (N parses
per case, default 200000). Each case parses one fixture frame N times with one parser.
HTX frames are timed twice: as already-decoded text, and as the raw gzip bytes.
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

from monitor.config import AssetSettings
from monitor.sources import dydx, htx, hyperliquid, kraken_futures
from monitor.sources.base import InstrumentBook

PAYLOADS = Path(__file__).parents[1] / "tests" / "fixtures" / "payloads"
CLASSES = AssetSettings().classes


def book(module, *names):
    insts = []
    for name in names:
        body = (PAYLOADS / module.NAME / ("%s.json" % name)).read_bytes()
        insts += module.parse_instruments(body, CLASSES)
    return InstrumentBook(module.NAME, insts, CLASSES, module.fallback)


def frame(venue, name):
    return (PAYLOADS / venue / ("%s.json" % name)).read_text()


def main(n):
    htx_book = book(htx, "instruments_swap_contract_info")
    kf_book = book(kraken_futures, "instruments")
    dydx_book = book(dydx, "instruments_perpetualMarkets")
    hl_book = book(hyperliquid, "instruments_meta", "instruments_meta_xyz")
    notify = frame("htx", "liquidation_orders_notify")
    cases = [
        ("htx liquidation (text)", htx.LiquidationParser(htx_book), notify),
        ("htx liquidation (gzip)", htx.LiquidationParser(htx_book), gzip.compress(notify.encode())),
        ("kraken_futures trade liquidation", kraken_futures.TradeParser(kf_book),
         frame("kraken_futures", "trade_liquidation_linear")),
        ("kraken_futures trade fill (skipped)", kraken_futures.TradeParser(kf_book),
         frame("kraken_futures", "trade_fill")),
        ("dydx v4_trades LIQUIDATED", dydx.TradesParser(dydx_book),
         frame("dydx", "v4_trades_liquidated")),
        ("dydx v4_trades LIMIT (skipped)", dydx.TradesParser(dydx_book),
         frame("dydx", "v4_trades_limit")),
        ("hyperliquid allMids (prices)", hyperliquid.PriceParser(hl_book),
         frame("hyperliquid", "allMids_core")),
    ]  # fmt: skip
    for label, parser, payload in cases:
        parse = parser.parse
        start = time.perf_counter()
        for _ in range(n):
            parse(payload, 1)
        elapsed = time.perf_counter() - start
        print("%-38s %10.0f frames/s  (%.2f us/frame)" % (label, n / elapsed, elapsed / n * 1e6))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
