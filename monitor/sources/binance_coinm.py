"""Binance COIN-M (inverse) futures: forced liquidations and mark prices.

Streams: ``wss://dstream.binance.com/stream?streams=a/b/...`` (COIN-M is NOT on the 2026
``/market`` route split of USDⓈ-M). The subscription is in the URL. Channels:
``!forceOrder@arr`` (all symbols) and ``<pair>@markPrice@1s`` (an array with every contract
of one pair, e.g. ``btcusd@markPrice@1s`` → ``BTCUSD_PERP`` and the dated ``BTCUSD_250926``).
Combined-stream frames are wrapped ``{"stream": ..., "data": ...}``.
Docs: https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
Side convention: ``o.S`` is the side of the forced ORDER: ``SELL`` means a LONG position was
liquidated, ``BUY`` a short one.
Units: ``q``/``z`` are CONTRACTS of ``contractSize`` USD each (exchangeInfo; BTC 100, others
10): notional_usd = contracts × contractSize, qty (base) = notional / price, price = ``ap``
(average fill, else ``p``) in USD.
Symbols: perpetual ``BTCUSD_PERP`` → ``BTC-USD-PERP``; dated ``BTCUSD_250926`` →
``BTC-USD-250926`` (the venue's YYMMDD expiry kept as the suffix).
Quirks: at most ONE liquidation per symbol per 1000 ms is pushed (``sampled``); connections
are cut at 24 h; the mark stream has ``r=""`` and ``T=0`` for dated contracts.
Fixtures: ``tests/fixtures/payloads/binance_coinm/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from monitor.events import AssetClass
from monitor.sources import _binance, _binance_force
from monitor.sources import binance_usdm as usdm
from monitor.sources.base import Instrument, StreamSpec, VenueSpec
from monitor.symbols import classify, split_concatenated

NAME: Final = "binance_coinm"
WS_BASE: Final = "wss://dstream.binance.com/stream?streams="
INSTRUMENTS_URL: Final = "https://dapi.binance.com/dapi/v1/exchangeInfo"
BTC_CONTRACT_USD: Final = 100.0  # Binance convention, used only by the name fallback
OTHER_CONTRACT_USD: Final = 10.0


class LiquidationParser(_binance_force.LiquidationParser):
    """Parses COIN-M ``forceOrder`` frames; sizes are contracts (``forceOrder_*.json``).

    Example: ``{"e":"forceOrder","E":1591154240950,"o":{"s":"BTCUSD_200925","ps":"BTCUSD",
    "S":"SELL","q":"1","p":"9425.5","ap":"9496.5","z":"1","T":1591154240949,...}}``.
    """

    exchange: str = NAME


class MarkPriceParser(_binance.MarkPriceParser):
    """Parses COIN-M ``markPriceUpdate`` frames, single or per-pair arrays."""

    exchange: str = NAME


def pair_of(venue_symbol: str) -> str:
    """Return the pair of a COIN-M symbol: ``BTCUSD_PERP`` → ``BTCUSD``."""
    return venue_symbol.partition("_")[0]


def liquidation_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return the all-market liquidation stream (it covers every COIN-M contract)."""
    return ["!forceOrder@arr"]


def price_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return one ``<pair>@markPrice@1s`` per distinct pair, sorted."""
    return [
        "%s@markPrice@1s" % p.lower()
        for p in sorted({pair_of(i.venue_symbol) for i in instruments})
    ]


def url(chunk: Sequence[str]) -> str:
    """Return the combined-stream URL carrying one connection's streams."""
    return _binance.combined_url(WS_BASE, chunk)


def normalized(base: str, quote: str, venue_symbol: str) -> str:
    """Return ``BTC-USD-PERP`` for ``BTCUSD_PERP``, ``BTC-USD-250926`` for a dated one."""
    suffix = venue_symbol.partition("_")[2] or "PERP"
    return "%s-%s-%s" % (base, quote, suffix)


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the TRADING contracts of ``/dapi/v1/exchangeInfo``, inverse, sized in USD."""
    rows = _binance.decode_exchange_info(NAME, payload)
    return [
        Instrument(
            exchange=NAME,
            venue_symbol=row.symbol,
            symbol=normalized(row.baseAsset, row.quoteAsset, row.symbol),
            asset=row.baseAsset,
            asset_class=classify(row.baseAsset, classes),
            quote=row.quoteAsset,
            inverse=True,
            contract_size=row.contractSize,
            category=row.contractType,
        )
        for row in rows
        if row.contractStatus == "TRADING" and row.contractSize > 0
    ]


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Return an instrument from the name alone, or None.

    The contract size follows Binance's fixed convention (BTC 100 USD, every other pair
    10 USD): 1.0 would understate notionals 10-100 fold.
    """
    try:
        base, quote = split_concatenated(pair_of(venue_symbol))
    except ValueError:
        return None
    return Instrument(
        NAME,
        venue_symbol,
        normalized(base, quote, venue_symbol),
        base,
        classify(base, classes),
        quote,
        inverse=True,
        contract_size=BTC_CONTRACT_USD if base == "BTC" else OTHER_CONTRACT_USD,
    )


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
            max_topics_per_conn=usdm.MAX_STREAMS_PER_CONN,
            max_age_s=usdm.MAX_AGE_S,
            stale_after_s=1800.0,  # COIN-M liquidations can be minutes apart
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=price_topics,
            url=url,
            subscribe=_binance.no_messages,
            make_parser=MarkPriceParser,
            max_topics_per_conn=usdm.MAX_STREAMS_PER_CONN,
            max_age_s=usdm.MAX_AGE_S,
            stale_after_s=30.0,
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="liquidations sampled 1/s/symbol; no open interest or bid/ask on these streams",
)
