"""Binance USDⓈ-M futures: forced liquidations and mark prices.

Streams: ``wss://fstream.binance.com/market/stream?streams=a/b/...`` (the 2026 ``/market``
route; the legacy ``/ws`` and ``/stream`` paths stopped delivering these streams on
2026-04-23 without an error). The subscription is in the URL, so nothing is sent after
connecting. Channels: ``!forceOrder@arr`` (all symbols) plus ``<sym>@forceOrder`` for TradFi
symbols (belt and braces: whether the all-market stream carries them is undocumented);
``!markPrice@arr@1s`` (a JSON array of ``markPriceUpdate``) plus ``<sym>@markPrice@1s`` for
TradFi symbols, which the all-market mark stream omits. Combined-stream frames are wrapped
``{"stream": ..., "data": ...}``.
Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
Side convention: ``o.S`` is the side of the forced ORDER: ``SELL`` means a LONG position was
liquidated, ``BUY`` a short one.
Units: ``z`` (accumulated filled qty, else ``q``) in base units; price ``ap`` (average fill,
else ``p``) in the quote currency (USDT/USDC ≈ USD); notional = qty × price.
Quirks: at most ONE liquidation per symbol per 1000 ms is pushed (the latest), so the feed
is ``sampled`` and undercounts during cascades; ``!forceOrder@arr`` frames carry one object,
not an array; connections are cut at 24 h; no open interest on WebSocket.
Fixtures: ``tests/fixtures/payloads/binance_usdm/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from monitor.events import AssetClass
from monitor.sources import _binance, _binance_force
from monitor.sources.base import Instrument, StreamSpec, VenueSpec
from monitor.symbols import classify, split_concatenated

NAME: Final = "binance_usdm"
WS_BASE: Final = "wss://fstream.binance.com/market/stream?streams="
INSTRUMENTS_URL: Final = "https://fapi.binance.com/fapi/v1/exchangeInfo"
MAX_STREAMS_PER_CONN: Final = 200  # the docs say 1024; one client reports 200: stay safe
MAX_AGE_S: Final = 24 * 3600.0  # Binance closes every connection at 24 h
TRADFI_CONTRACT: Final = "TRADIFI_PERPETUAL"  # exchangeInfo contractType of XAUUSDT, TSLAUSDT


class LiquidationParser(_binance_force.LiquidationParser):
    """Parses USDⓈ-M ``forceOrder`` frames (``forceOrder_*.json``); sizes in base units."""

    exchange: str = NAME


class MarkPriceParser(_binance.MarkPriceParser):
    """Parses USDⓈ-M ``markPriceUpdate`` frames, single or ``!markPrice@arr`` arrays."""

    exchange: str = NAME


def is_tradfi(inst: Instrument) -> bool:
    """Return True for TradFi perps (metals, equities...), which need per-symbol streams."""
    return inst.category == TRADFI_CONTRACT or inst.asset_class != "crypto"


def liquidation_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``!forceOrder@arr`` plus ``<sym>@forceOrder`` per TradFi instrument."""
    per_symbol = ["%s@forceOrder" % i.venue_symbol.lower() for i in instruments if is_tradfi(i)]
    return ["!forceOrder@arr", *per_symbol]


def price_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``!markPrice@arr@1s`` plus ``<sym>@markPrice@1s`` per TradFi instrument."""
    per_symbol = ["%s@markPrice@1s" % i.venue_symbol.lower() for i in instruments if is_tradfi(i)]
    return ["!markPrice@arr@1s", *per_symbol]


def url(chunk: Sequence[str]) -> str:
    """Return the ``/market`` combined-stream URL carrying one connection's streams."""
    return _binance.combined_url(WS_BASE, chunk)


def normalized(base: str, quote: str, venue_symbol: str) -> str:
    """Return ``BTC-USDT-PERP`` for ``BTCUSDT``, ``BTC-USDT-250926`` for ``BTCUSDT_250926``."""
    return "%s-%s-%s" % (base, quote, venue_symbol.partition("_")[2] or "PERP")


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the TRADING contracts of ``/fapi/v1/exchangeInfo`` (perps, TradFi, dated).

    ``category`` is the ``contractType``: ``TRADIFI_PERPETUAL`` selects the per-symbol
    streams even when the config's asset-class table does not list the asset.
    """
    rows = _binance.decode_exchange_info(NAME, payload)
    return [
        Instrument(
            exchange=NAME,
            venue_symbol=row.symbol,
            symbol=normalized(row.baseAsset, row.quoteAsset, row.symbol),
            asset=row.baseAsset,
            asset_class=classify(row.baseAsset, classes),
            quote=row.quoteAsset,
            category=row.contractType,
        )
        for row in rows
        if row.status == "TRADING"
    ]


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Return an instrument from the name alone (``XAGUSDT`` → ``XAG-USDT-PERP``), or None."""
    try:
        base, quote = split_concatenated(venue_symbol.partition("_")[0])
    except ValueError:
        return None
    symbol = normalized(base, quote, venue_symbol)
    return Instrument(NAME, venue_symbol, symbol, base, classify(base, classes), quote)


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="sampled",
            topics=liquidation_topics,
            url=url,
            subscribe=_binance.no_messages,
            make_parser=LiquidationParser,
            max_topics_per_conn=MAX_STREAMS_PER_CONN,
            max_age_s=MAX_AGE_S,
            stale_after_s=600.0,  # a calm market can go minutes without any forceOrder
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=price_topics,
            url=url,
            subscribe=_binance.no_messages,
            make_parser=MarkPriceParser,
            max_topics_per_conn=MAX_STREAMS_PER_CONN,
            max_age_s=MAX_AGE_S,
            stale_after_s=30.0,  # the all-market mark stream ticks every second
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot=(
        "liquidations sampled (at most 1 per symbol per second); no open interest and no "
        "bid/ask on the subscribed streams (bookTicker not subscribed)"
    ),
)
