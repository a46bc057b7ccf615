"""Frames and settings the hostile-venue tests share (tests/e2e/test_chaos*.py).

The fake exchange plays Binance USD-M (``forceOrder`` and ``markPrice``) or HTX (GZIP
binary frames) to the running daemon; each frame is built at send time, stamped now.
"""

from __future__ import annotations

import gzip
import itertools
import json
import time
from pathlib import Path

from monitor.config import Settings, load

SERIAL = itertools.count(1)


def force_order(
    *, t_ms: int | None = None, qty: str = "", price: str = "60000", symbol: str = "BTCUSDT"
) -> str:
    """A ``forceOrder`` frame; each call a distinct liquidation (the runner drops repeats)."""
    now = int(time.time() * 1000)
    qty = qty or "0.%03d" % next(SERIAL)
    order = {
        "s": symbol, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": qty, "p": price,
        "ap": price, "X": "FILLED", "l": qty, "z": qty, "T": t_ms if t_ms is not None else now,
    }  # fmt: skip
    return json.dumps(
        {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": now, "o": order}}
    )


def mark_price(price: str = "60000", symbol: str = "BTCUSDT") -> str:
    """A ``!markPrice@arr@1s`` frame stamped now."""
    now = int(time.time() * 1000)
    row = {"e": "markPriceUpdate", "E": now, "s": symbol, "p": price, "r": "0.0001", "T": now}
    return json.dumps({"stream": "!markPrice@arr@1s", "data": [row]})


def htx_liquidation(volume: int = 0, price: float = 60000.0) -> bytes:
    """A GZIP ``public.*.liquidation_orders`` notify frame for BTC-USDT, stamped now."""
    now = int(time.time() * 1000)
    volume = volume or next(SERIAL)
    row = {
        "contract_code": "BTC-USDT", "direction": "sell", "offset": "close", "volume": volume,
        "price": price, "created_at": now, "amount": volume / 1000,
    }  # fmt: skip
    msg = {"op": "notify", "topic": "public.BTC-USDT.liquidation_orders", "ts": now, "data": [row]}
    return gzip.compress(json.dumps(msg).encode())


def settings_for(
    tmp: Path, url: str, venue: str = "binance_usdm", symbol: str = "BTCUSDT", **extra: object
) -> Settings:
    """Settings for one venue played by the fake exchange at `url` (HTTP on a free port)."""
    return load(
        None, env={},
        overrides={
            **extra,
            "http.listen": "127.0.0.1:0",
            "sources.enabled": [venue],
            "sources.endpoint_override": {venue: url},
            "sources.rest_override": {venue: "http://127.0.0.1:9"},
            "sources.cache_dir": str(tmp / "cache"),
            "sources.symbols": {venue: [symbol]},
        },
    )  # fmt: skip
