"""Warm start of the live daemon from the venues' public REST klines, cached on disk.

On a first start (no state restored), `warm_from_rest` asks Binance USDⓈ-M for the last
``limit`` 1-minute klines of each symbol the daemon streams
(``GET /fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1500``; the host follows
``sources.rest_override.binance_usdm``), writes them as kline CSV under
``<state.dir>/klines/``, and seeds the price volatility from those files through the same
reader as ``liqmon replay --warmup``. When the venue cannot be reached, cached files (if
any) are used; else the priors. The outcome is one line for ``/readyz`` (``warm_start``).
Called once at start, bounded by ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import aiohttp

from monitor.aggregate.prices import PriceWindows
from monitor.errors import InputError
from monitor.events import AssetClass
from monitor.sources.runner import override_endpoint
from monitor.state.warmup import seed_from_files

logger = logging.getLogger(__name__)

KLINES_URL: Final = "https://fapi.binance.com/fapi/v1/klines"
VENUE: Final = "binance_usdm"
OFFLINE: Final = "offline, using priors"


async def fetch_klines(
    session: aiohttp.ClientSession, url: str, symbol: str, limit: int
) -> list[list[object]]:
    """Return the kline rows of one symbol (raises aiohttp/OS/timeout errors, ValueError)."""
    params = {"symbol": symbol, "interval": "1m", "limit": str(limit)}
    async with session.get(url, params=params) as resp:
        resp.raise_for_status()
        rows = await resp.json(content_type=None)
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) >= 5 for r in rows):
        msg = "not a kline array"
        raise ValueError(msg)
    return rows


def write_csv(path: Path, rows: Sequence[Sequence[object]]) -> None:
    """Write kline rows as the CSV `monitor.io.klines.read_klines` reads (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[str(v) for v in row[:12]] for row in rows])
    tmp.replace(path)


async def warm_from_rest(
    prices: PriceWindows,
    symbols: Sequence[str],
    cache_dir: Path,
    classes: Mapping[str, AssetClass],
    *,
    rest_override: str | None = None,
    limit: int = 1500,
    timeout_s: float = 10.0,
) -> str:
    """Seed `prices` from REST klines of `symbols` (cached in `cache_dir`); return the outcome."""
    url = override_endpoint(KLINES_URL, rest_override)
    fetched: list[str] = []
    try:
        async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as session:
            for symbol in symbols:
                try:
                    rows = await fetch_klines(session, url, symbol, limit)
                except (aiohttp.ClientResponseError, ValueError) as exc:
                    logger.info("warm start: %s klines refused: %s", symbol, exc)
                    continue
                write_csv(cache_dir / ("%s-1m-warmup.csv" % symbol), rows)
                fetched.append(symbol)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        logger.info("warm start: %s klines unreachable (%s)", VENUE, exc or "timeout")
    return seed_cached(prices, symbols, cache_dir, classes, online=bool(fetched))


def seed_cached(
    prices: PriceWindows,
    symbols: Sequence[str],
    cache_dir: Path,
    classes: Mapping[str, AssetClass],
    *,
    online: bool,
) -> str:
    """Seed `prices` from the cached kline files of `symbols`; return the outcome line."""
    files = [cache_dir / ("%s-1m-warmup.csv" % s) for s in symbols]
    try:
        seeded = seed_from_files(prices, [f for f in files if f.is_file()], classes)
    except InputError as exc:
        logger.warning("warm start: cached klines ignored: %s", exc)
        return OFFLINE
    if not seeded:
        return OFFLINE
    how = "from %s REST klines" % VENUE if online else "offline, from cached klines"
    return "%d instruments seeded %s" % (len(seeded), how)
