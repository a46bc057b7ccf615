"""Bybit v5 linear and inverse contracts: every liquidation, and tickers.

Streams: ``wss://stream.bybit.com/v5/public/linear`` (USDT/USDC perps and futures, incl.
the TradFi stock/metal/energy perps) and ``wss://stream.bybit.com/v5/public/inverse``.
Channels ``allLiquidation.{symbol}`` and ``tickers.{symbol}``: there is no wildcard, every
symbol is subscribed explicitly with ``{"op":"subscribe","args":[...]}``. One stream per
category, because a connection serves one category and `StreamSpec.url` only sees topics.
Docs: https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation
Side convention: ``S`` is the side of the liquidated POSITION (not the order): ``Buy`` means a
LONG position was liquidated, ``Sell`` a short one. Same for the deprecated
``liquidation.{symbol}`` (``side``), parsed for old recordings but never subscribed.
Units: ``v`` linear = base coin (notional = v × p); inverse = USD contracts of 1 USD
(notional = v, qty = v / p). ``p`` is the bankruptcy price; ``T`` ms.
Tickers: a ``snapshot`` then ``delta`` frames in which an absent field means "unchanged", so
the parser keeps per-symbol state. A delta for a symbol with no snapshot yet is merged into
empty state and gives a Tick only once a price is known. price = ``markPrice`` (else
``lastPrice``), bid/ask = ``bid1Price``/``ask1Price``, ``fundingRate``; open interest in USD
= ``openInterestValue`` for linear (USDT), ``openInterest`` (USD contracts) for inverse.
Quirks: client ``{"op":"ping"}`` every 20 s (else cut after ~10 min); args of one connection
≤ 21,000 characters; ``allLiquidation`` pushes every 500 ms, ``data`` is an array. Acks
and pongs give []; an ack with ``success: false`` (a refused subscription) is a ParseError
so that it is counted. Instruments: one page of ≤ 1000 per category (``nextPageCursor`` is
not followed; linear listed ~800 symbols in 2026).
Fixtures: ``tests/fixtures/payloads/bybit/``.
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
from monitor.sources.bybit.instruments import fallback, parse_instruments
from monitor.sources.bybit.parse import NAME, LiquidationParser, TickerParser

__all__ = ["SPEC", "LiquidationParser", "TickerParser", "fallback", "parse_instruments"]

WS_URLS: Final = {
    "linear": "wss://stream.bybit.com/v5/public/linear",
    "inverse": "wss://stream.bybit.com/v5/public/inverse",
}
INSTRUMENTS_URLS: Final = (
    # limit=1000 is the page maximum; a longer list carries result.nextPageCursor, which
    # this one-URL-one-page contract cannot follow (linear had ~800 symbols in 2026).
    "https://api.bybit.com/v5/market/instruments-info?category=linear&limit=1000",
    "https://api.bybit.com/v5/market/instruments-info?category=inverse&limit=1000",
)
PING: Final = '{"op":"ping"}'
PING_INTERVAL_S: Final = 20.0
# 21,000 characters of args per connection; a topic costs ≤ 40 ("allLiquidation." + a
# symbol of ≤ 22 + quotes and comma): 400 × 40 = 16,000 leaves room for longer symbols.
MAX_TOPICS_PER_CONN: Final = 400
ARGS_PER_MESSAGE: Final = 100


def topics_for(channel: str, category: str) -> Callable[[Sequence[Instrument]], list[str]]:
    """Return a topics builder: ``<channel>.<symbol>`` for the instruments of `category`."""

    def build(instruments: Sequence[Instrument]) -> list[str]:
        return ["%s.%s" % (channel, i.venue_symbol) for i in instruments if i.category == category]

    return build


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return subscribe messages of ≤ `ARGS_PER_MESSAGE` args for one connection's topics."""
    return [
        msgspec.json.encode(
            {"op": "subscribe", "args": list(chunk[i : i + ARGS_PER_MESSAGE])}
        ).decode()
        for i in range(0, len(chunk), ARGS_PER_MESSAGE)
    ]


def _stream(
    name: str, channel: str, category: str, parser: Callable[[InstrumentBook], FrameParser]
) -> StreamSpec:
    liquidations = channel == "allLiquidation"
    return StreamSpec(
        name=name,
        kind="liquidations" if liquidations else "prices",
        completeness="exact",
        topics=topics_for(channel, category),
        url=lambda chunk: WS_URLS[category],
        subscribe=subscribe,
        make_parser=parser,
        max_topics_per_conn=MAX_TOPICS_PER_CONN,
        heartbeat=Heartbeat(PING_INTERVAL_S, PING),
        # pongs arrive every 20 s, so silence is death on both streams
        stale_after_s=60.0,
    )


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        _stream("liquidations_linear", "allLiquidation", "linear", LiquidationParser),
        _stream("liquidations_inverse", "allLiquidation", "inverse", LiquidationParser),
        _stream("prices_linear", "tickers", "linear", TickerParser),
        _stream("prices_inverse", "tickers", "inverse", TickerParser),
    ),
    instruments_urls=INSTRUMENTS_URLS,
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot=(
        "no wildcard topic (every symbol subscribed); the instrument list is one page of "
        "1000 per category (nextPageCursor not followed)"
    ),
)
