"""Time cryptofeed's Binance futures liquidation handling on liqmon's Binance fixtures.

Runs inside the peers virtualenv (``bench/.peers``, cryptofeed==3.0.1, Python ≥ 3.13 as
cryptofeed 3 requires); it never imports liqmon. Same frames as ``bench/parsers.py``:
``tests/fixtures/payloads/binance_usdm/forceOrder_{raw,combined}.json``.

What is timed, each in a tight loop of awaits inside one coroutine on one asyncio event loop,
delivering the normalized ``cryptofeed.types.Liquidation`` to a no-op async callback:

* ``message_handler`` (combined frame): ``await feed.message_handler(text, None, ts)``,
  cryptofeed's real entry point for every websocket frame: ``cryptofeed._json.loads(text,
  parse_float=Decimal)`` (msgspec when installed), unwrap ``{"stream", "data"}``, dispatch
  on ``e == "forceOrder"`` → ``_liquidations`` → ``Liquidation(...)`` → callbacks.
* ``loads+_liquidations`` (bare frame; ``message_handler`` requires the combined envelope
  that cryptofeed's own connection always gets): ``await feed._liquidations(
  json.loads(text, parse_float=Decimal), ts)``, i.e. the same decode and handler without
  the envelope unwrap. ``_liquidations`` takes the inner payload dict.

No network: cryptofeed 3 builds the feed without fetching symbols (that happens in
``Feed._setup`` when the feed runs), but the handler needs the symbol map. It is filled with
``Symbols.set`` from ``BinanceFutures._parse_symbol_data`` applied to liqmon's recorded
``exchangeInfo_rest.json``, after giving each symbol a PRICE_FILTER (the fixture has
``"filters": []`` and cryptofeed reads ``filters[0]["tickSize"]``). ``load_symbols`` is
replaced by a function that raises, so any attempt to fetch would fail loudly.

Usage: python bench/peer_cryptofeed.py --out peer.json [--repeats 5] [--min-time 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptofeed import _json as cf_json
from cryptofeed.defines import BINANCE_FUTURES, LIQUIDATIONS
from cryptofeed.exchanges import BinanceFutures
from cryptofeed.symbols import Symbols
from cryptofeed.types import Liquidation

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "payloads" / "binance_usdm"
TS_RECV = 1_767_225_600.0
PATCHED = (
    "cryptofeed.symbols.Symbols.set(BINANCE_FUTURES, *BinanceFutures._parse_symbol_data("
    "exchangeInfo_rest.json with a PRICE_FILTER tickSize added to each symbol)) instead of"
    " the REST fetch; BinanceFutures.load_symbols replaced by a function that raises"
    " (never called). Nothing in the handler path is patched."
)


async def noop(obj: object, receipt_timestamp: float) -> None:
    """Swallow a delivered object (the callback cryptofeed awaits)."""


async def _refuse_network(*args: object, **kwargs: object) -> dict[str, str]:
    msg = "bench: cryptofeed tried to load symbols over the network"
    raise RuntimeError(msg)


def install_symbols() -> None:
    """Fill cryptofeed's symbol map for BINANCE_FUTURES from liqmon's exchangeInfo fixture."""
    info = json.loads((FIXTURES / "exchangeInfo_rest.json").read_text(encoding="utf-8"))
    for sym in info["symbols"]:
        sym["filters"] = sym.get("filters") or [{"filterType": "PRICE_FILTER", "tickSize": "0.1"}]
    syms, extra = BinanceFutures._parse_symbol_data(info)
    Symbols.set(BINANCE_FUTURES, syms, extra)
    BinanceFutures.load_symbols = classmethod(_refuse_network)  # type: ignore[assignment,method-assign]


def make_feed(callback: Callable[[object, float], Awaitable[None]]) -> BinanceFutures:
    """Return a BinanceFutures feed on BTC-USDT-PERP liquidations delivering to `callback`."""
    feed = BinanceFutures(
        symbols=["BTC-USDT-PERP"], channels=[LIQUIDATIONS], callbacks={LIQUIDATIONS: callback}
    )
    if feed.http_conn.is_open:
        msg = "bench: the feed opened an HTTP session"
        raise RuntimeError(msg)
    return feed


Step = Callable[[str], Awaitable[None]]


def steps(feed: BinanceFutures) -> dict[str, tuple[str, Step]]:
    """Return path name → (fixture, coroutine function of one frame) for `feed`."""

    async def via_handler(text: str) -> None:
        await feed.message_handler(text, None, TS_RECV)

    async def via_liquidations(text: str) -> None:
        await feed._liquidations(cf_json.loads(text, parse_float=Decimal), TS_RECV)

    return {
        "message_handler": ("forceOrder_combined.json", via_handler),
        "loads+_liquidations": ("forceOrder_raw.json", via_liquidations),
    }


async def check(path: str, fixture: str, text: str) -> int:
    """Run `path` once on a capturing feed; return the liquidations delivered."""
    got: list[tuple[object, float]] = []

    async def capture(obj: object, receipt_timestamp: float) -> None:
        got.append((obj, receipt_timestamp))

    await steps(make_feed(capture))[path][1](text)
    if not got or not all(isinstance(o, Liquidation) for o, _ in got):
        raise ValueError("%s on %s delivered %r" % (path, fixture, got))
    liq = got[0][0]
    print("check %s: %r" % (path, liq.to_dict()), file=sys.stderr)  # type: ignore[attr-defined]
    return len(got)


async def time_loop(step: Step, text: str, n: int) -> float:
    """Return the seconds taken by `n` awaits ``step(text)`` in a tight loop."""
    started = time.perf_counter_ns()
    for _ in range(n):
        await step(text)
    return (time.perf_counter_ns() - started) / 1e9


def measure(run: Callable[[int], float], repeats: int, min_time: float) -> dict[str, Any]:
    """Calibrate a call count to about `min_time` s, time it `repeats` times, take the median."""
    n = 100
    while (took := run(n)) < min_time / 4:
        n *= 4
    n = max(n, int(n * min_time / took))
    runs_us = [run(n) / n * 1e6 for _ in range(repeats)]
    median = statistics.median(runs_us)
    return {
        "calls_per_run": n,
        "runs_us": [round(r, 4) for r in runs_us],
        "median_us": round(median, 4),
        "frames_per_s": round(1e6 / median),
    }


def run(repeats: int, min_time: float) -> dict[str, Any]:
    """Measure every path on one event loop; return the results document."""
    install_symbols()
    loop = asyncio.new_event_loop()
    rows = []
    try:
        feed = make_feed(noop)
        for path, (fixture, step) in steps(feed).items():
            text = (FIXTURES / fixture).read_text(encoding="utf-8").strip()
            liqs = loop.run_until_complete(check(path, fixture, text))

            def timed(n: int, step: Step = step, text: str = text) -> float:
                return loop.run_until_complete(time_loop(step, text, n))

            row = {
                "side": "cryptofeed",
                "venue": "binance_usdm",
                "frame": fixture,
                "mode": "text",
                "path": path,
                "frame_bytes": len(text.encode()),
                "liquidations_per_frame": liqs,
            } | measure(timed, repeats, min_time)
            rows.append(row)
            print(
                "cryptofeed %-20s %-26s %9.3f µs %10d frames/s"
                % (path, fixture, row["median_us"], row["frames_per_s"]),
                file=sys.stderr,
            )
    finally:
        loop.close()
    return {
        "side": "cryptofeed",
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "cryptofeed_version": metadata.version("cryptofeed"),
        "msgspec_version": metadata.version("msgspec"),
        "json_backend": cf_json.BACKEND,
        "repeats": repeats,
        "min_time_s": min_time,
        "patched": PATCHED,
        "results": rows,
    }


def main() -> None:
    """Parse the command line, measure, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per run")
    args = ap.parse_args()
    if args.repeats < 3:
        ap.error("--repeats must be at least 3")
    doc = run(args.repeats, args.min_time)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
