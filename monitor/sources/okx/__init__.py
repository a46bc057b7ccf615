"""OKX v5 perpetual swaps and futures: liquidation orders, tickers and mark prices.

Streams: ``wss://ws.okx.com:8443/ws/v5/public`` (port 443 ``wss://ws.okx.com/ws/v5/public``
also serves; the runner may override the endpoint). Channels: ``liquidation-orders`` by
``instType`` (``SWAP``, ``FUTURES``): one subscription returns every instrument of the type;
prices from ``tickers`` (``last``, ``bidPx``, ``askPx``) and ``mark-price`` (``markPx``) per
``instId``, merged by the parser (state per connection) so that every Tick carries the mark
price once known (else last) with the latest bid/ask.
Subscribe: ``{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}``.
Docs: https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel
Side convention: ``details[].side`` is the side of the liquidation ORDER: ``sell`` means a
LONG position was liquidated, ``buy`` a short one (``posSide`` is ``net`` in net mode, so it
is not used).
Units: ``sz`` is CONTRACTS × ``ctVal`` (``GET /api/v5/public/instruments``): linear
(``BTC-USDT-SWAP``) qty = sz × ctVal base, notional = qty × bkPx; inverse (``BTC-USD-SWAP``)
notional_usd = sz × ctVal, qty = notional / bkPx. ``bkPx`` is the bankruptcy price; ``ts``
a string of ms.
Quirks: OKX says the feed is PARTIAL ("doesn't represent the total number of liquidations")
and not chronological; the first push after subscribing may replay recent ones (the
runner dedups on event_id). Text ``ping`` every 25 s (idle connections are closed after
30 s), ``pong`` → []. ``event:"notice"`` (64008, upgrade disconnect in 60 s) → []: the
runner reconnects when the server closes. ``event:"error"`` → ParseError (a refused
subscription must be counted, not ignored). ≤ 480 subscribe requests per hour per
connection, ≤ 64 KB per request.
Fixtures: ``tests/fixtures/payloads/okx/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from monitor.sources.base import (
    FrameParser,
    Heartbeat,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
)
from monitor.sources.okx.instruments import INSTRUMENTS_URLS, fallback, parse_instruments
from monitor.sources.okx.parse import NAME, LiquidationParser, PriceParser

__all__ = ["SPEC", "LiquidationParser", "PriceParser", "fallback", "parse_instruments"]

WS_URL: Final = "wss://ws.okx.com:8443/ws/v5/public"
LIQUIDATION_INST_TYPES: Final = ("SWAP", "FUTURES")
PING: Final = "ping"
PING_INTERVAL_S: Final = 25.0  # idle connections are closed after 30 s
# A price topic is ~55 bytes as an arg: 300 per connection is ~17 KB, well under the
# 64 KB request cap, in one subscribe request (480 per hour allowed).
MAX_TOPICS_PER_CONN: Final = 300


def liquidation_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``liquidation-orders:SWAP`` and ``liquidation-orders:FUTURES`` (all symbols)."""
    return ["liquidation-orders:%s" % t for t in LIQUIDATION_INST_TYPES]


def price_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``tickers:<instId>``, ``mark-price:<instId>`` and ``open-interest:<instId>``."""
    return [
        "%s:%s" % (channel, i.venue_symbol)
        for i in instruments
        for channel in ("tickers", "mark-price", "open-interest")
    ]


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return one subscribe request for ``<channel>:<instType|instId>`` topics."""
    args = []
    for topic in chunk:
        channel, _, key = topic.partition(":")
        field = "instType" if channel == "liquidation-orders" else "instId"
        args.append({"channel": channel, field: key})
    return [msgspec.json.encode({"op": "subscribe", "args": args}).decode()]


def _stream(
    name: str,
    topics: Callable[[Sequence[Instrument]], list[str]],
    parser: Callable[[InstrumentBook], FrameParser],
) -> StreamSpec:
    liquidations = name == "liquidations"
    return StreamSpec(
        name=name,
        kind="liquidations" if liquidations else "prices",
        completeness="exact",
        topics=topics,
        url=lambda chunk: WS_URL,
        subscribe=subscribe,
        make_parser=parser,
        max_topics_per_conn=MAX_TOPICS_PER_CONN,
        heartbeat=Heartbeat(PING_INTERVAL_S, PING),
        stale_after_s=60.0,  # pongs every 25 s: silence beyond that is a dead socket
    )


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        _stream("liquidations", liquidation_topics, LiquidationParser),
        _stream("prices", price_topics, PriceParser),
    ),
    instruments_urls=INSTRUMENTS_URLS,
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot=(
        "liquidations partial by OKX's own statement and not chronological; no funding "
        "rate on the subscribed price channels"
    ),
)
