"""Frames/s of the binance_usdm, binance_coinm, bybit and okx liquidation parsers, one core.

Run by hand (not a test): ``.venv/bin/python scripts/throughput_binance_bybit_okx.py``.
Each parser decodes its fixture frames round-robin N times; a fresh parser and book are
built once per venue, as the runner does per connection.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.sources import binance_coinm, binance_usdm, bybit, okx
from monitor.sources.base import InstrumentBook

PAYLOADS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "payloads"
CLASSES = {"XAU": "metal", "TSLA": "equity", "NVDA": "equity"}
N = 200_000
PLAN = [
    (binance_usdm, ["exchangeInfo_rest"], ["forceOrder_combined", "forceOrder_tradfi"]),
    (binance_coinm, ["exchangeInfo_rest"], ["forceOrder_dated", "forceOrder_combined"]),
    (
        bybit,
        ["instruments_linear", "instruments_inverse"],
        ["allLiquidation_linear", "allLiquidation_inverse"],
    ),
    (okx, ["instruments_swap"], ["liquidation-orders_swap", "liquidation-orders_mixed"]),
]


def main() -> None:
    for module, rests, names in PLAN:
        venue = module.SPEC.name
        instruments = []
        for rest in rests:
            body = (PAYLOADS / venue / ("%s.json" % rest)).read_bytes()
            instruments += module.SPEC.parse_instruments(body, CLASSES)
        book = InstrumentBook(venue, instruments, CLASSES, module.SPEC.fallback)
        parser = module.SPEC.streams[0].make_parser(book)
        frames = [(PAYLOADS / venue / ("%s.json" % n)).read_bytes() for n in names]
        events = 0
        start = time.perf_counter()
        for i in range(N):
            events += len(parser.parse(frames[i % len(frames)], 1))
        elapsed = time.perf_counter() - start
        print(
            "%-14s %9.0f frames/s  %9.0f events/s  (%.2f µs/frame)"
            % (venue, N / elapsed, events / elapsed, elapsed / N * 1e6)
        )


if __name__ == "__main__":
    main()
