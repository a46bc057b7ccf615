"""Frames/s of the bitmex, deribit, gate and bitget parsers on one core (run by hand).

Usage: ``.venv/bin/python scripts/throughput_bitmex_deribit_gate_bitget.py [N]`` (N parses
per case, default 200000). Each case parses one fixture frame N times with one parser.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from monitor.config import AssetSettings
from monitor.sources import bitget, bitmex, deribit, gate
from monitor.sources.base import InstrumentBook

PAYLOADS = Path(__file__).parents[1] / "tests" / "fixtures" / "payloads"
CLASSES = AssetSettings().classes


def book(module, rest):
    body = (PAYLOADS / module.NAME / ("%s.json" % rest)).read_bytes()
    return InstrumentBook(
        module.NAME, module.parse_instruments(body, CLASSES), CLASSES, module.fallback
    )


def frame(venue, name):
    return (PAYLOADS / venue / ("%s.json" % name)).read_text()


def main(n):
    bm = book(bitmex, "rest_instrument_active")
    dr = book(deribit, "rest_get_instruments")
    gt = book(gate, "rest_contracts")
    bg = book(bitget, "rest_instruments")
    cases = [
        (
            "bitmex liquidation insert",
            bitmex.LiquidationParser(bm),
            frame("bitmex", "liquidation_insert_xbtusd"),
        ),
        (
            "bitmex liquidation update (ignored)",
            bitmex.LiquidationParser(bm),
            frame("bitmex", "liquidation_update"),
        ),
        (
            "deribit trades, 1 liquidation",
            deribit.LiquidationParser(dr),
            frame("deribit", "trades_liquidation_taker"),
        ),
        (
            "deribit trades, MT + plain trade",
            deribit.LiquidationParser(dr),
            frame("deribit", "trades_liquidation_both"),
        ),
        (
            "deribit trades, no liquidation",
            deribit.LiquidationParser(dr),
            frame("deribit", "trades_no_liquidation"),
        ),
        (
            "gate public_liquidates, 2 rows",
            gate.LiquidationParser(gt),
            frame("gate", "update_ms_string_size"),
        ),
        (
            "bitget liquidation, 1 row",
            bitget.LiquidationParser(bg),
            frame("bitget", "liquidation_update"),
        ),
        (
            "bitget liquidation, 2 rows",
            bitget.LiquidationParser(bg),
            frame("bitget", "liquidation_snapshot_multi"),
        ),
    ]
    for label, parser, text in cases:
        start = time.perf_counter()
        for _ in range(n):
            parser.parse(text, 1)
        elapsed = time.perf_counter() - start
        print("%-40s %10.0f frames/s" % (label, n / elapsed))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
