"""Pollers that diff the public risk-tier endpoints of Bybit, OKX and Hyperliquid.

Every ``interval_s()`` seconds (60 s by default; the app passes a function that answers
15 s while an alert is pending or firing) a `TierPoller` fetches the
venue's tiers, diffs them against the last snapshot (`monitor.margin.tiers.diff_tiers`:
first tier, ``maintenance_rate`` and ``max_leverage``) and publishes one `MarginChange`
per changed requirement, stamped with the time it was seen (notice = effective: a tier
table binds when published). The first successful poll only sets the baseline: nothing is
emitted, since the venue's past changes are unknown. A failed poll (network, HTTP status,
unexpected payload) is logged, counted and retried at the next interval; the baseline is
kept, and a product missing from one poll keeps its last known tiers.

Fetch, clock and sleep are injected, so tests drive the loop without the network or time.
Costs at 60 s: Bybit ``risk-limit`` answers 15 symbols per page (≈ 35 pages for every
linear symbol, far under its 600 requests per 5 s), or one request per configured symbol;
OKX one request per configured instrument family; Hyperliquid ``meta`` weighs 20 of its
1,200 per minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

import aiohttp

from monitor.clock import Clock, SystemClock
from monitor.errors import ParseError
from monitor.events import AssetClass, MarginChange
from monitor.margin.calendar import MarginPublish
from monitor.margin.tiers import (
    TierPage,
    TierSnapshot,
    deeper_changes,
    diff_tiers,
    parse_bybit_risk_limit,
    parse_hyperliquid_meta,
    parse_okx_position_tiers,
)

logger = logging.getLogger(__name__)

TierFetch = Callable[[], Awaitable[TierSnapshot]]
"""Fetches one whole snapshot of a venue's tiers; raises on any failure."""
VENUES: Final = ("bybit", "okx", "hyperliquid")
DEFAULT_BASES: Final[dict[str, str]] = {
    "bybit": "https://api.bybit.com",
    "okx": "https://www.okx.com",
    "hyperliquid": "https://api.hyperliquid.xyz",
}
PATHS: Final[dict[str, str]] = {
    "bybit": "/v5/market/risk-limit?category=linear",
    "okx": "/api/v5/public/position-tiers?instType=SWAP&tdMode=cross",
    "hyperliquid": "/info",
}
MAX_PAGES: Final = 200  # Bybit pagination guard (≈ 35 pages today)
FetchErrors: Final = (aiohttp.ClientError, TimeoutError, ParseError)


async def _get(session: aiohttp.ClientSession, url: str, params: Mapping[str, str]) -> bytes:
    async with session.get(url, params=params) as resp:
        resp.raise_for_status()
        return await resp.read()


async def fetch_bybit(
    session: aiohttp.ClientSession, base: str, symbols: Sequence[str]
) -> TierSnapshot:
    """Return the linear risk limits of `symbols`, or of every symbol when empty (paged)."""
    url = base.rstrip("/") + "/v5/market/risk-limit"
    snapshot: TierSnapshot = {}
    if symbols:
        for symbol in symbols:
            body = await _get(session, url, {"category": "linear", "symbol": symbol})
            snapshot.update(parse_bybit_risk_limit(body).tiers)
        return snapshot
    cursor: str | None = ""
    for _ in range(MAX_PAGES):
        params = {"category": "linear", **({"cursor": cursor} if cursor else {})}
        page: TierPage = parse_bybit_risk_limit(await _get(session, url, params))
        snapshot.update(page.tiers)
        cursor = page.next_cursor
        if not cursor:
            return snapshot
    raise ParseError("bybit risk-limit: more than %d pages" % MAX_PAGES)


async def fetch_okx(
    session: aiohttp.ClientSession, base: str, families: Sequence[str]
) -> TierSnapshot:
    """Return the cross-margin SWAP position tiers of every instrument family in `families`.

    Raises:
        ParseError: `families` is empty (OKX needs ``instFamily`` for SWAP).
    """
    if not families:
        msg = "okx position-tiers: no instrument family configured"
        raise ParseError(msg)
    url = base.rstrip("/") + "/api/v5/public/position-tiers"
    snapshot: TierSnapshot = {}
    for family in families:
        params = {"instType": "SWAP", "tdMode": "cross", "instFamily": family}
        snapshot.update(parse_okx_position_tiers(await _get(session, url, params)).tiers)
    return snapshot


async def fetch_hyperliquid(
    session: aiohttp.ClientSession, base: str, coins: Sequence[str]
) -> TierSnapshot:
    """Return max leverage per coin from ``meta``, limited to `coins` when given."""
    async with session.post(base.rstrip("/") + "/info", json={"type": "meta"}) as resp:
        resp.raise_for_status()
        body = await resp.read()
    tiers = parse_hyperliquid_meta(body).tiers
    return {c: t for c, t in tiers.items() if c in coins} if coins else tiers


_FETCHERS: Final = {"bybit": fetch_bybit, "okx": fetch_okx, "hyperliquid": fetch_hyperliquid}


def http_fetcher(
    venue: str,
    *,
    symbols: Sequence[str] = (),
    base: str | None = None,
    timeout_s: float = 10.0,
) -> TierFetch:
    """Return a `TierFetch` over HTTP for `venue` (one short-lived session per poll).

    Args:
        venue: ``bybit``, ``okx`` or ``hyperliquid``.
        symbols: Bybit symbols, OKX instrument families (required) or Hyperliquid coins;
            empty means every product (Bybit, Hyperliquid).
        base: ``scheme://host[:port]`` instead of the venue's (proxies, tests).
        timeout_s: bound on each HTTP request, in seconds.

    Raises:
        KeyError: unknown venue.
    """
    fetch_venue = _FETCHERS[venue]
    root = base or DEFAULT_BASES[venue]
    wanted = tuple(symbols)

    async def fetch() -> TierSnapshot:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            return await fetch_venue(session, root, wanted)

    return fetch


class TierPoller:
    """Polls one venue's tiers and publishes the changes (an `EventSource` for the app)."""

    def __init__(
        self,
        venue: str,
        fetch: TierFetch,
        *,
        classes: Mapping[str, AssetClass],
        interval_s: Callable[[], float] = lambda: 60.0,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        source: str | None = None,
    ) -> None:
        """Poll `venue` with `fetch`.

        Args:
            venue: the venue id put on events.
            fetch: returns a whole snapshot or raises (`http_fetcher` in production).
            classes: the ``assets.classes`` table.
            interval_s: called before every wait; seconds until the next poll.
            clock: stamps the events (wall time); the system clock by default.
            sleep: awaited between polls (tests inject a fake).
            source: provenance put on events; the endpoint URL by default.
        """
        self.venue = venue
        self.fetch = fetch
        self.classes = dict(classes)
        self.interval_s = interval_s
        self.clock = clock or SystemClock()
        self._sleep = sleep
        self.source = source or DEFAULT_BASES.get(venue, "") + PATHS.get(venue, "")
        self.baseline: TierSnapshot | None = None
        self.polls = 0
        self.errors = 0
        self.published = 0

    async def poll_once(self) -> list[MarginChange]:
        """Fetch once and return the changes against the baseline (none on the first poll).

        Raises:
            aiohttp.ClientError, TimeoutError, ParseError: the fetch failed; the baseline
                is unchanged.
        """
        snapshot = await self.fetch()
        self.polls += 1
        if self.baseline is None:
            self.baseline = dict(snapshot)
            logger.info("margin poller %s: baseline of %d products", self.venue, len(snapshot))
            return []
        events = diff_tiers(
            self.baseline, snapshot, venue=self.venue, ts_ns=self.clock.wall_ns(),
            classes=self.classes, source=self.source,
        )  # fmt: skip
        deeper = deeper_changes(self.baseline, snapshot)
        if deeper:
            logger.info(
                "margin poller %s: deeper tiers changed (no event): %s",
                self.venue, ", ".join(deeper[:10]),
            )  # fmt: skip
        self.baseline.update(snapshot)  # a product missing from one poll keeps its tiers
        return events

    async def run(self, publish: MarginPublish) -> None:
        """Poll, publish changes and wait, until cancelled; a failed poll is logged and retried."""
        while True:
            try:
                events = await self.poll_once()
            except FetchErrors as exc:
                self.errors += 1
                logger.warning(
                    "margin poller %s: poll failed: %s", self.venue, str(exc) or type(exc).__name__
                )
            else:
                for event in events:
                    logger.info(
                        "margin change %s %s %s: %g -> %g (D=%.3f)",
                        event.venue, event.product, event.basis, event.old, event.new,
                        event.tightening,
                    )  # fmt: skip
                if events:
                    await publish(events)
                    self.published += len(events)
            await self._sleep(max(self.interval_s(), 0.0))
