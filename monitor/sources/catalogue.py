"""Instrument catalogues: fetched from each venue's public REST endpoint, cached on disk.

At start the catalogue is fetched (GET, bounded by a timeout). On success it is written to
``<cache_dir>/<venue>.json`` (atomically); when the venue is unreachable the last cache is
used, and with no cache the configured seed symbols (through the venue's fallback) are.
A refresh task re-fetches every ``refresh_s``; new instruments are used by parsers at once
and subscribed on the next reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from monitor.errors import SourceError
from monitor.events import AssetClass
from monitor.sources.base import Instrument, VenueSpec
from monitor.sources.runner import override_endpoint

logger = logging.getLogger(__name__)
_DECODER = msgspec.json.Decoder(list[Instrument])


async def fetch_instruments(
    venue: VenueSpec,
    classes: Mapping[str, AssetClass],
    *,
    timeout_s: float = 10.0,
    rest_override: str | None = None,
) -> list[Instrument]:
    """GET every instruments URL of `venue` and parse them.

    Raises:
        SourceError, TimeoutError: the venue is unreachable or answered with an error.
        ParseError: the response is not what the venue documents.
    """
    import aiohttp  # noqa: PLC0415  (live venues only: keep it off replays' start-up)

    if venue.parse_instruments is None or not venue.instruments_urls:
        return []
    out: list[Instrument] = []
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url in venue.instruments_urls:
                target = override_endpoint(url, rest_override) if rest_override else url
                async with session.get(target) as resp:
                    resp.raise_for_status()
                    body = await resp.read()
                out.extend(venue.parse_instruments(body, classes))
    except aiohttp.ClientError as exc:
        raise SourceError(str(exc) or type(exc).__name__) from exc
    return out


def cache_path(cache_dir: Path, venue: str) -> Path:
    """Return the cache file of `venue`."""
    return cache_dir / ("%s.json" % venue)


def write_cache(cache_dir: Path, venue: str, instruments: Sequence[Instrument]) -> None:
    """Write the cache atomically (a crash never leaves half a file)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_path(cache_dir, venue)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.encode(list(instruments)))
    tmp.replace(path)


def read_cache(cache_dir: Path, venue: str) -> list[Instrument] | None:
    """Return the cached instruments of `venue`, or None if there is no usable cache."""
    path = cache_path(cache_dir, venue)
    try:
        return _DECODER.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None


async def load_instruments(
    venue: VenueSpec,
    classes: Mapping[str, AssetClass],
    *,
    cache_dir: Path,
    seeds: Sequence[str] = (),
    timeout_s: float = 10.0,
    rest_override: str | None = None,
) -> list[Instrument]:
    """Return the venue's instruments: fresh, else cached, else from `seeds` (one line logged)."""
    try:
        fresh = await fetch_instruments(
            venue, classes, timeout_s=timeout_s, rest_override=rest_override
        )
    except (SourceError, TimeoutError, ValueError) as exc:  # ParseError is a SourceError
        reason = str(exc) or type(exc).__name__
    else:
        if fresh:
            write_cache(cache_dir, venue.name, fresh)
            logger.info("catalogue %s: %d instruments fetched", venue.name, len(fresh))
        return fresh
    cached = read_cache(cache_dir, venue.name)
    if cached:
        logger.warning(
            "catalogue %s unreachable (%s); using the cache (%d instruments)",
            venue.name, reason, len(cached),
        )  # fmt: skip
        return cached
    seeded = [i for s in seeds if (i := _seed(venue, s, classes)) is not None]
    logger.warning(
        "catalogue %s unreachable (%s) and no cache; using %d configured symbols",
        venue.name, reason, len(seeded),
    )  # fmt: skip
    return seeded


def _seed(venue: VenueSpec, symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    return venue.fallback(symbol, classes) if venue.fallback is not None else None
