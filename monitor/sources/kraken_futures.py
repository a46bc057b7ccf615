"""Kraken Futures (ex-Crypto Facilities) perpetuals: ``PF_`` linear and ``PI_`` inverse.

Streams: ``wss://futures.kraken.com/ws/v1`` — feed ``trade`` (rows with ``"type":
"liquidation"`` are liquidations; ``fill``, ``block``, ``termination`` … are skipped) and
feed ``ticker`` (markPrice, bid, ask, funding, openInterest; deltas throttled to 1/s).
Docs: https://docs.kraken.com/exchange/api-reference/futures-websocket/trade.md
Side convention (UNCERTAIN, EXCHANGES §10): ``side`` is taken as the side of the TAKER order,
which in a liquidation is the forced order of the liquidated account: ``sell`` means a LONG
position was liquidated, ``buy`` a short one. Rationale: Kraken documents ``side`` as the
taker side, the liquidation engine always takes liquidity, and tardis passes ``side``
through as the liquidation order side. Re-check against live traffic.
Units: ``qty`` in contracts — ``PF_`` (multi-collateral linear): base units;
``PI_`` (inverse): USD, one contract = ``contractSize`` USD, so base qty = qty × size / price
and notional_usd = qty × size. ``time`` ms. ``openInterest`` in contracts as well.
Funding: the ticker's ``funding_rate`` is absolute (quote per unit per hour); the Tick
carries ``relative_funding_rate`` (a fraction), else funding_rate / markPrice.
Quirks: a ``trade_snapshot`` of recent trades follows every subscribe (emitted: the runner
dedups by event_id, built from the trade ``uid``). Kraken drops connections idle for 60 s:
the runner's WebSocket protocol pings keep it alive, and the ``heartbeat`` feed is also
subscribed (``{"feed":"heartbeat","time":…}`` every minute) so the stale watchdog sees
frames on quiet books. Both PF_ and PI_ map to ``BTC-USD-PERP`` (category tells them apart).
Fixtures: ``tests/fixtures/payloads/kraken_futures/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources._checks import (
    PARSE_ERRORS,
    known,
    liquidated,
    parse_error,
    positive,
    ts_ns,
)
from monitor.sources.base import (
    Frame,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
)
from monitor.symbols import classify, perp_symbol, split_concatenated

NAME: Final = "kraken_futures"
WS_URL: Final = "wss://futures.kraken.com/ws/v1"
INSTRUMENTS_URL: Final = "https://futures.kraken.com/derivatives/api/v3/instruments"
MAX_PRODUCTS_PER_CONN: Final = 100  # no documented limit; keeps one subscribe message small
PERP_TYPES: Final = {"flexible_futures": False, "inverse_futures": True}  # type → inverse
ALIASES: Final = {"XBT": "BTC"}


class _Trade(msgspec.Struct, frozen=True):
    """One ``trade`` row (also the rows of ``trade_snapshot``); wire field names."""

    uid: str  # trade id, unique per venue
    side: str  # taker side: "buy" | "sell"
    type: str  # "fill" | "liquidation" | "block" | "termination" | ...
    time: int  # ms
    qty: float  # contracts
    price: float  # quote currency
    product_id: str = ""  # absent in snapshot rows


class _TradeMsg(msgspec.Struct, frozen=True):
    feed: str = ""  # "trade" | "trade_snapshot" | "heartbeat"; absent on events
    event: str = ""  # "info" | "subscribed" | "error" | ...
    product_id: str = ""
    trades: list[_Trade] = []  # trade_snapshot only


class _Ticker(msgspec.Struct, frozen=True):
    feed: str = ""
    event: str = ""
    product_id: str = ""
    time: int = 0  # ms
    markPrice: float | None = None  # mark price
    last: float | None = None  # last trade price
    bid: float | None = None
    ask: float | None = None
    funding_rate: float | None = None  # absolute, quote per unit per hour
    relative_funding_rate: float | None = None  # fraction per hour
    openInterest: float | None = None  # contracts


class _Instrument(msgspec.Struct, frozen=True):
    symbol: str  # "PF_XBTUSD"
    type: str  # "flexible_futures" | "inverse_futures" | "futures_inverse" ...
    base: str = ""  # "BTC" (sometimes "XBT")
    quote: str = ""  # "USD"
    contractSize: float = 1.0  # base per contract (PF), USD per contract (PI)
    tradfi: bool = False  # a TradFi underlying


class _Instruments(msgspec.Struct, frozen=True):
    instruments: list[_Instrument] = []


_TRADE: Final = msgspec.json.Decoder(_TradeMsg)
_TRADE_ROW: Final = msgspec.json.Decoder(_Trade)
_TICKER: Final = msgspec.json.Decoder(_Ticker)
_INSTRUMENTS: Final = msgspec.json.Decoder(_Instruments)


def _event(event: str, frame: Frame) -> list[Event]:
    """Return [] for info/subscribed acks; raise for ``error`` and ``*_failed`` events."""
    if event == "error" or event.endswith("_failed"):
        raise parse_error(NAME, "venue error event", frame)
    return []


class TradeParser:
    """Parses ``trade`` and ``trade_snapshot`` frames (fixtures ``trade_liquidation`` …)."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per liquidation row; fills, acks, heartbeats give []."""
        try:
            msg = _TRADE.decode(frame)
            if msg.event:
                return _event(msg.event, frame)
            if msg.feed == "trade":
                rows = [_TRADE_ROW.decode(frame)]
            elif msg.feed == "trade_snapshot":
                rows = msg.trades
            else:
                return []
            out: list[Event] = []
            for row in rows:
                if row.type != "liquidation":
                    continue
                product = row.product_id or msg.product_id
                inst = known(self.book, product, "product")
                price = positive(row.price, "price")
                contracts = positive(row.qty, "qty")
                if inst.inverse:
                    notional = contracts * inst.contract_size
                    qty = notional / price
                else:
                    qty = contracts * inst.contract_size
                    notional = qty * price
                out.append(
                    Liquidation(
                        exchange=NAME,
                        symbol=inst.symbol,
                        venue_symbol=product,
                        asset=inst.asset,
                        asset_class=inst.asset_class,
                        position_side=liquidated(row.side, "sell", "buy"),
                        price=price,
                        qty=positive(qty, "qty"),
                        notional_usd=positive(notional, "notional"),
                        ts_event_ns=ts_ns(row.time, limit_ms=None),
                        ts_recv_ns=ts_recv_ns,
                        event_id="%s:%s:%s" % (NAME, product, row.uid),
                    )
                )
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None
        return out


class TickerParser:
    """Parses ``ticker`` frames (fixture ``ticker_update``): mark price, bid/ask, funding, OI."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick`; acks and heartbeats give []."""
        try:
            msg = _TICKER.decode(frame)
            if msg.event:
                return _event(msg.event, frame)
            if msg.feed != "ticker":
                return []
            inst = known(self.book, msg.product_id, "product")
            raw = msg.markPrice if msg.markPrice is not None else msg.last
            if raw is None:
                raise parse_error(NAME, "ticker without price", frame)
            price = positive(raw, "price")
            funding = msg.relative_funding_rate
            if funding is None and msg.funding_rate is not None:
                funding = msg.funding_rate / price
            if funding is not None and not math.isfinite(funding):
                raise parse_error(NAME, "bad funding rate", frame)
            oi_usd = None
            if msg.openInterest is not None and msg.openInterest > 0:
                per_contract = inst.contract_size * (1.0 if inst.inverse else price)
                oi_usd = positive(msg.openInterest * per_contract, "openInterest")
            return [
                Tick(
                    exchange=NAME,
                    symbol=inst.symbol,
                    venue_symbol=msg.product_id,
                    asset=inst.asset,
                    asset_class=inst.asset_class,
                    price=price,
                    bid=positive(msg.bid, "bid") if msg.bid is not None else None,
                    ask=positive(msg.ask, "ask") if msg.ask is not None else None,
                    open_interest_usd=oi_usd,
                    funding_rate=funding,
                    ts_event_ns=ts_ns(msg.time, limit_ms=None),
                    ts_recv_ns=ts_recv_ns,
                )
            ]
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None


def _make(
    product: str, base: str, quote: str, inverse: bool, size: float,
    classes: Mapping[str, AssetClass], category: str,
) -> Instrument:  # fmt: skip
    asset = ALIASES.get(base.upper(), base.upper())
    return Instrument(
        NAME, product, perp_symbol(asset, quote.upper()), asset, classify(asset, classes),
        quote.upper(), inverse, size, category,
    )  # fmt: skip


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the perpetuals (``PF_``/``PI_``) of an ``/instruments`` response.

    Raises:
        ParseError: malformed response.
    """
    try:
        rows = _INSTRUMENTS.decode(payload).instruments
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, "instruments: %s" % exc, payload) from None
    out = []
    for row in rows:
        derived = fallback(row.symbol, classes)
        if derived is None or row.type not in PERP_TYPES or row.contractSize <= 0:
            continue
        base = row.base or derived.asset
        quote = row.quote or derived.quote
        out.append(
            _make(
                row.symbol, base, quote, PERP_TYPES[row.type], row.contractSize, classes, row.type
            )
        )
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive ``PF_XBTUSD`` → BTC-USD-PERP (PI_ → inverse, 1 USD); None for dated futures."""
    prefix, _, pair = venue_symbol.upper().partition("_")
    if prefix not in ("PF", "PI") or not pair:
        return None
    try:
        base, quote = split_concatenated(pair)
    except ValueError:
        return None
    category = "inverse_futures" if prefix == "PI" else "flexible_futures"
    return _make(venue_symbol, base, quote, prefix == "PI", 1.0, classes, category)


def _subscribe(feed: str) -> Callable[[Sequence[str]], list[str]]:
    def build(chunk: Sequence[str]) -> list[str]:
        msgs = [{"event": "subscribe", "feed": feed, "product_ids": list(chunk)}]
        msgs.append({"event": "subscribe", "feed": "heartbeat"})
        return [msgspec.json.encode(m).decode() for m in msgs]

    return build


def _products(instruments: Sequence[Instrument]) -> list[str]:
    return [i.venue_symbol for i in instruments]


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=_products,
            url=lambda chunk: WS_URL,
            subscribe=_subscribe("trade"),
            make_parser=TradeParser,
            max_topics_per_conn=MAX_PRODUCTS_PER_CONN,
            stale_after_s=90.0,  # the heartbeat feed ticks every 60 s
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=_products,
            url=lambda chunk: WS_URL,
            subscribe=_subscribe("ticker"),
            make_parser=TickerParser,
            max_topics_per_conn=MAX_PRODUCTS_PER_CONN,
            stale_after_s=90.0,
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="liquidation side convention unverified (taker side assumed)",
)
