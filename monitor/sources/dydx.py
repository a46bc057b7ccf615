"""dYdX v4 perpetuals, from the public indexer.

Streams: ``wss://indexer.dydx.trade/v4/ws`` — channel ``v4_trades`` (one subscription per
market id, e.g. ``BTC-USD``; rows with ``"type": "LIQUIDATED"`` are liquidations, ``LIMIT``,
``MARKET`` and ``DELEVERAGED`` are skipped) and channel ``v4_markets`` (one subscription for
all markets: oracle prices, open interest, next funding rate).
Docs: https://docs.dydx.exchange/api_integration-indexer/indexer_websocket
Side convention (UNCERTAIN, EXCHANGES §11): ``side`` is the TAKER side of the fill, and in a
liquidation the liquidated account is the taker (its position is closed against the book):
``SELL`` means a LONG position was liquidated, ``BUY`` a short one (tardis passes ``side``
through as the liquidation order side).
Units: ``size`` in base units, ``price`` in USD (USDC collateral, taken as USD), both strings;
``createdAt`` ISO-8601 → ns. notional_usd = size × price. ``openInterest`` in base units.
Prices: the Tick price is the ORACLE price (dYdX's mark for margining; no mark field exists);
bid/ask are not on ``v4_markets`` (they would need ``v4_orderbook``). The subscribe snapshot
lists every market's ``oraclePrice`` without a time: those ticks carry the receive time.
Later ``oraclePrices`` updates carry ``effectiveAt``; ``trading`` deltas only update the
funding/OI state kept in the parser (one per connection).
Quirks: the ``subscribed`` message of ``v4_trades`` replays recent trades (emitted; the
runner dedups by event_id = trade id). The server pings with WebSocket control frames every
30 s (answered by the protocol layer), so no app-level heartbeat.
Fixtures: ``tests/fixtures/payloads/dydx/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources._checks import (
    PARSE_ERRORS,
    finite,
    known,
    liquidated,
    parse_error,
    positive,
)
from monitor.sources.base import (
    Frame,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
)
from monitor.symbols import classify, perp_symbol

NAME: Final = "dydx"
WS_URL: Final = "wss://indexer.dydx.trade/v4/ws"
INSTRUMENTS_URL: Final = "https://indexer.dydx.trade/v4/perpetualMarkets"
MAX_MARKETS_PER_CONN: Final = 32  # conservative: per-connection limits are not documented
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)


class _Trade(msgspec.Struct, frozen=True):
    """One ``v4_trades`` row; wire field names."""

    id: str  # taker fill id, unique
    side: str  # taker side: "BUY" | "SELL"
    size: str  # base units
    price: str  # USD
    createdAt: str  # ISO-8601, "2024-08-23T00:00:57.627Z"
    type: str = ""  # "LIMIT" | "MARKET" | "LIQUIDATED" | "DELEVERAGED"


class _Trades(msgspec.Struct, frozen=True):
    trades: list[_Trade] = []


class _TradesMsg(msgspec.Struct, frozen=True):
    type: str = ""  # "connected" | "subscribed" | "channel_data" | "error" | ...
    channel: str = ""  # "v4_trades"
    id: str = ""  # market id, "BTC-USD"
    contents: _Trades | None = None


class _Market(msgspec.Struct, frozen=True):
    """A market in the snapshot or a ``trading`` delta (every field optional in deltas)."""

    oraclePrice: str | None = None  # USD
    openInterest: str | None = None  # base units
    nextFundingRate: str | None = None  # fraction per hour


class _Oracle(msgspec.Struct, frozen=True):
    price: str  # USD
    effectiveAt: str  # ISO-8601


class _MarketsContents(msgspec.Struct, frozen=True):
    markets: dict[str, _Market] = {}  # subscribe snapshot
    trading: dict[str, _Market] = {}  # channel_data deltas
    oraclePrices: dict[str, _Oracle] = {}  # channel_data oracle updates


class _MarketsMsg(msgspec.Struct, frozen=True):
    type: str = ""
    channel: str = ""  # "v4_markets"
    contents: _MarketsContents | None = None


class _PerpMarket(msgspec.Struct, frozen=True):
    ticker: str  # "BTC-USD"
    status: str = ""  # "ACTIVE" | "PAUSED" | "CANCEL_ONLY" | "POST_ONLY" | "FINAL_SETTLEMENT"


class _PerpMarkets(msgspec.Struct, frozen=True):
    markets: dict[str, _PerpMarket] = {}


_TRADES: Final = msgspec.json.Decoder(_TradesMsg)
_MARKETS: Final = msgspec.json.Decoder(_MarketsMsg)
_PERP_MARKETS: Final = msgspec.json.Decoder(_PerpMarkets)


def _iso_ns(text: str, frame: Frame) -> int:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise parse_error(NAME, "bad time %r (%s)" % (text, exc), frame) from None
    if when.tzinfo is None:
        raise parse_error(NAME, "time without zone %r" % text, frame)
    ns = int((when - EPOCH) // MICROSECOND) * 1000
    if ns <= 0:
        raise parse_error(NAME, "time before 1970 %r" % text, frame)
    return ns


class TradesParser:
    """Parses ``v4_trades`` frames (fixtures ``v4_trades_*``)."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per LIQUIDATED row, snapshot included; others give []."""
        try:
            msg = _TRADES.decode(frame)
            if msg.type == "error":
                raise parse_error(NAME, "venue error", frame)
            if msg.channel != "v4_trades" or msg.contents is None:
                return []
            out: list[Event] = []
            for row in msg.contents.trades:
                if row.type != "LIQUIDATED":
                    continue
                inst = known(self.book, msg.id, "market")
                price = positive(row.price, "price")
                qty = positive(row.size, "size") * inst.contract_size
                notional = qty * price
                if not math.isfinite(notional):
                    raise parse_error(NAME, "notional overflows", frame)
                out.append(
                    Liquidation(
                        exchange=NAME,
                        symbol=inst.symbol,
                        venue_symbol=msg.id,
                        asset=inst.asset,
                        asset_class=inst.asset_class,
                        position_side=liquidated(row.side, "SELL", "BUY"),
                        price=price,
                        qty=qty,
                        notional_usd=notional,
                        ts_event_ns=_iso_ns(row.createdAt, frame),
                        ts_recv_ns=ts_recv_ns,
                        event_id="%s:%s:%s" % (NAME, msg.id, row.id),
                    )
                )
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None
        return out


class MarketsParser:
    """Parses ``v4_markets`` frames (fixtures ``v4_markets_*``); keeps funding/OI per market."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book
        self.funding: dict[str, float] = {}
        self.oi_base: dict[str, float] = {}

    def _remember(self, market: str, row: _Market, frame: Frame) -> None:
        if row.nextFundingRate is not None:
            self.funding[market] = finite(row.nextFundingRate, "nextFundingRate")
        if row.openInterest is not None:
            oi = finite(row.openInterest, "openInterest")
            if oi < 0:
                raise parse_error(NAME, "negative open interest", frame)
            self.oi_base[market] = oi

    def _tick(self, market: str, price: float, ts_ns: int, ts_recv_ns: int, frame: Frame) -> Tick:
        inst = known(self.book, market, "market")
        oi = self.oi_base.get(market)
        oi_usd = oi * inst.contract_size * price if oi else None
        if oi_usd is not None and not math.isfinite(oi_usd):
            raise parse_error(NAME, "open interest overflows", frame)
        return Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=market,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            open_interest_usd=oi_usd,
            funding_rate=self.funding.get(market),
            ts_event_ns=ts_ns,
            ts_recv_ns=ts_recv_ns,
        )

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` per oracle price (snapshot or update); acks/deltas give []."""
        try:
            msg = _MARKETS.decode(frame)
            if msg.type == "error":
                raise parse_error(NAME, "venue error", frame)
            if msg.channel != "v4_markets" or msg.contents is None:
                return []
            contents = msg.contents
            out: list[Event] = []
            for market, row in sorted({**contents.markets, **contents.trading}.items()):
                self._remember(market, row, frame)
            for market, row in sorted(contents.markets.items()):
                if row.oraclePrice is not None:
                    price = positive(row.oraclePrice, "oraclePrice")
                    out.append(self._tick(market, price, ts_recv_ns, ts_recv_ns, frame))
            for market, oracle in sorted(contents.oraclePrices.items()):
                price = positive(oracle.price, "price")
                ts_ns = _iso_ns(oracle.effectiveAt, frame)
                out.append(self._tick(market, price, ts_ns, ts_recv_ns, frame))
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None
        return out


def _make(market: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    parts = market.upper().split("-")
    if len(parts) != 2 or not all(parts):
        return None
    asset, quote = parts
    return Instrument(
        NAME, market, perp_symbol(asset, quote), asset, classify(asset, classes), quote,
        category="perpetual",
    )  # fmt: skip


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the markets of a ``/v4/perpetualMarkets`` response (final-settled ones skipped).

    Raises:
        ParseError: malformed response.
    """
    try:
        markets = _PERP_MARKETS.decode(payload).markets
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, "instruments: %s" % exc, payload) from None
    out = []
    for key in sorted(markets):
        if markets[key].status == "FINAL_SETTLEMENT":
            continue
        inst = _make(markets[key].ticker, classes)
        if inst is not None:
            out.append(inst)
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive ``BTC-USD`` → BTC-USD-PERP (size in base units)."""
    return _make(venue_symbol, classes)


def _subscribe_trades(chunk: Sequence[str]) -> list[str]:
    return [
        msgspec.json.encode({"type": "subscribe", "channel": "v4_trades", "id": m}).decode()
        for m in chunk
    ]


def _subscribe_markets(chunk: Sequence[str]) -> list[str]:
    return [msgspec.json.encode({"type": "subscribe", "channel": "v4_markets"}).decode()]


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=lambda instruments: [i.venue_symbol for i in instruments],
            url=lambda chunk: WS_URL,
            subscribe=_subscribe_trades,
            make_parser=TradesParser,
            max_topics_per_conn=MAX_MARKETS_PER_CONN,
            stale_after_s=90.0,  # server pings every 30 s; trades can be rare
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=lambda instruments: ["v4_markets"],
            url=lambda chunk: WS_URL,
            subscribe=_subscribe_markets,
            make_parser=MarketsParser,
            max_topics_per_conn=1,
            stale_after_s=60.0,
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="no mark price or bid/ask on the price stream (oracle price only)",
)
