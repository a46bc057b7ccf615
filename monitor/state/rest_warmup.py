"""Warm start of the live daemon from the venues' public REST klines, cached on disk.

On a first start (no state restored), `warm_from_rest` asks Binance USDⓈ-M for the last
``minutes`` 1-minute klines of each symbol the daemon streams, in pages of 1500 walking back
with ``endTime`` (``GET /fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1500``; the host
follows ``sources.rest_override.binance_usdm``), writes them as kline CSV under
``<state.dir>/klines/``, and seeds the price volatility and the crash rule's tail of hourly
falls from those files through the same reader as ``liqmon replay --warmup``. A page
weighs 10 of the venue's 2400 request weight a minute; the pages are spaced so the warm
start spends at most `WEIGHT_PER_MIN` of it. When the venue cannot be reached, cached files
(if any) are used; else the priors. The outcome is one line for ``/readyz``
(``warm_start``). Called once at start, bounded by ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, cast

import aiohttp

from monitor.aggregate.windows.prices import PriceWindows
from monitor.errors import InputError
from monitor.events import AssetClass
from monitor.sources.runner import override_endpoint
from monitor.state.warmup import seed_from_files

logger = logging.getLogger(__name__)

KLINES_URL: Final = "https://fapi.binance.com/fapi/v1/klines"
VENUE: Final = "binance_usdm"
OFFLINE: Final = "offline, using priors"
PAGE: Final = 1500  # klines per request, the venue's maximum
PAGE_WEIGHT: Final = 10  # request weight of a page of more than 1000 klines
WEIGHT_PER_MIN: Final = 1200  # at most half the venue's 2400 a minute goes to the warm start


async def fetch_klines(
    session: aiohttp.ClientSession,
    url: str,
    symbol: str,
    limit: int,
    end_ms: int | None = None,
) -> list[list[object]]:
    """Return up to `limit` kline rows of one symbol, oldest first.

    The newest row opened at or before `end_ms` (epoch ms; None: the newest there is).

    Raises aiohttp/OS/timeout errors, or ValueError when the body is not a kline array.
    """
    params = {"symbol": symbol, "interval": "1m", "limit": str(limit)}
    if end_ms is not None:
        params["endTime"] = str(end_ms)
    async with session.get(url, params=params) as resp:
        resp.raise_for_status()
        rows = await resp.json(content_type=None)
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) >= 5 and isinstance(r[0], int) for r in rows
    ):
        msg = "not a kline array"
        raise ValueError(msg)
    return rows


async def fetch_history(
    session: aiohttp.ClientSession, url: str, symbol: str, minutes: int, gap_s: float
) -> list[list[object]]:
    """Return the last `minutes` klines of `symbol`, oldest first, in pages of `PAGE`.

    Each page ends just before the oldest kline of the one after it; a short page means
    the venue has no older klines. `gap_s` seconds are slept between pages (rate limit).
    """
    pages: list[list[list[object]]] = []
    wanted, end_ms = minutes, None
    while wanted > 0:
        if pages:
            await asyncio.sleep(gap_s)
        limit = min(PAGE, wanted)
        rows = await fetch_klines(session, url, symbol, limit, end_ms)
        if not rows:
            break
        pages.append(rows)
        wanted -= len(rows)
        end_ms = cast(int, rows[0][0]) - 1  # an int: checked by fetch_klines
        if len(rows) < limit:
            break
    return [row for page in reversed(pages) for row in page]


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
    minutes: int = PAGE,
    timeout_s: float = 10.0,
) -> str:
    """Seed `prices` from the last `minutes` REST klines of `symbols` (cached in `cache_dir`).

    Returns the outcome line for ``/readyz``.
    """
    url = override_endpoint(KLINES_URL, rest_override)
    requests = len(symbols) * -(-minutes // PAGE)
    gap_s = 60.0 * PAGE_WEIGHT / WEIGHT_PER_MIN if requests * PAGE_WEIGHT > WEIGHT_PER_MIN else 0.0
    fetched: list[str] = []
    try:
        async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as session:
            for n, symbol in enumerate(symbols):
                if n:
                    await asyncio.sleep(gap_s)
                try:
                    rows = await fetch_history(session, url, symbol, minutes, gap_s)
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
