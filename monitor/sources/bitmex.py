"""BitMEX perpetual swaps (inverse ``XBTUSD``, linear ``XBTUSDT``, quanto ``ETHUSD``).

Streams: ``wss://www.bitmex.com/realtime`` — tables ``liquidation`` (all symbols, one
topic) and ``instrument:<SYMBOL>`` (mark, last, bid/ask, funding, open interest).
Docs: https://www.bitmex.com/app/wsAPI (tables, heartbeats).
Side convention: ``side`` is the side of the liquidation ORDER: ``Sell`` means a LONG
position was liquidated, ``Buy`` a SHORT one.
Table semantics: ``partial`` is the snapshot of liquidation orders resting in the book when
we subscribe (they entered the book before we connected, at an unknown time: not counted);
``insert`` is a new liquidation order entering the book (THE liquidation event);
``update`` (``leavesQty`` shrinking as it fills) and ``delete`` (filled or cancelled) are
changes of an order already counted: ignored.
Units: ``leavesQty`` in contracts. Inverse contracts: USD per contract =
|multiplier / underlyingToSettleMultiplier| (1 for XBTUSD), so notional_usd = contracts ×
that and qty = notional_usd / price. Linear contracts: base per contract =
1 / underlyingToPositionMultiplier (XBTUSDT: 1e-6 XBT), qty = contracts × that and
notional_usd = qty × price. Quanto contracts are skipped: their USD value needs the XBT
price. ``XBT`` is normalized to ``BTC``.
Quirks: liquidation rows carry NO timestamp, so ``ts_event_ns`` is our receive time
(rows are reported to lag the fact by a few seconds); dated futures in the all-symbol
table are skipped; ``instrument`` updates carry only the changed fields, so the price
parser keeps each symbol's last values. Heartbeat: text ``ping`` → ``pong``. Connection
opens are limited to 20 per hour, hence few, large connections.
Fixtures: ``tests/fixtures/payloads/bitmex/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources._checks import MAX_NS, parse_error
from monitor.sources.base import (
    Frame,
    Heartbeat,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
)
from monitor.symbols import classify, perp_symbol, split_concatenated

NAME: Final = "bitmex"
WS_URL: Final = "wss://www.bitmex.com/realtime"
INSTRUMENTS_URL: Final = "https://www.bitmex.com/api/v1/instrument/active"
PING_PAYLOAD: Final = "ping"
PING_INTERVAL_S: Final = 5.0  # BitMEX: ping when nothing was received for 5 s
MAX_TOPICS_PER_CONN: Final = 200  # our choice: opens are limited to 20 per hour
PERPETUAL_TYP: Final = "FFWCSX"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NS: Final = timedelta(microseconds=1)


class _Envelope(msgspec.Struct, frozen=True):
    table: str = ""  # "liquidation", "instrument"; absent on acks and the welcome
    action: str = ""  # "partial" | "insert" | "update" | "delete"
    data: msgspec.Raw = msgspec.Raw(b"[]")  # rows, typed per table
    error: str | None = None  # set on a rejected request
    status: int = 0  # HTTP-like status of an error


class _LiqRow(msgspec.Struct, frozen=True):
    orderID: str  # the liquidation order
    symbol: str  # "XBTUSD"
    side: Literal["Buy", "Sell"]  # ORDER side: Sell = long liquidated
    price: float  # order price, quote currency
    leavesQty: float  # contracts


class _InstRow(msgspec.Struct, frozen=True):
    symbol: str  # "XBTUSD"
    markPrice: float | None = None  # mark price
    lastPrice: float | None = None  # last trade price
    bidPrice: float | None = None  # best bid
    askPrice: float | None = None  # best ask
    fundingRate: float | None = None  # current funding rate
    openInterest: float | None = None  # contracts
    timestamp: str | None = None  # ISO-8601, e.g. "2024-03-02T02:44:10.789Z"


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_LIQ_ROWS: Final = msgspec.json.Decoder(list[_LiqRow])
_INST_ROWS: Final = msgspec.json.Decoder(list[_InstRow])


def _envelope(frame: Frame) -> _Envelope | None:
    if frame in ("pong", b"pong"):
        return None
    try:
        env = _ENVELOPE.decode(frame)
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, frame) from None
    if env.error is not None:
        raise parse_error(NAME, "error %d %s" % (env.status, env.error), frame)
    return env


def _asset(underlying: str) -> str:
    return "BTC" if underlying == "XBT" else underlying


class LiquidationParser:
    """Parses ``liquidation`` table frames; see ``liquidation_insert_xbtusd.json``.

    Example: ``{"table":"liquidation","action":"insert","data":[{"orderID":"9513c849-…",
    "symbol":"XBTUSD","side":"Buy","price":6833.5,"leavesQty":2020}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per inserted row; everything else gives []."""
        env = _envelope(frame)
        if env is None or env.table != "liquidation" or env.action != "insert":
            return []
        try:
            rows = _LIQ_ROWS.decode(env.data)
        except msgspec.DecodeError as exc:
            raise parse_error(NAME, exc, frame) from None
        out: list[Event] = []
        for row in rows:
            inst = self.book.get(row.symbol)
            if inst is None or inst.category == "quanto":
                continue  # dated future or quanto: no USD value from the row alone
            price, contracts = row.price, row.leavesQty
            if inst.inverse:
                notional = contracts * inst.contract_size
                qty = notional / price if price > 0 else math.nan
            else:
                qty = contracts * inst.contract_size
                notional = qty * price
            if not all(math.isfinite(v) and v > 0 for v in (price, qty, notional)):
                msg = "price/leavesQty not positive"
                raise parse_error(NAME, msg, frame)
            out.append(
                Liquidation(
                    exchange=NAME,
                    symbol=inst.symbol,
                    venue_symbol=row.symbol,
                    asset=inst.asset,
                    asset_class=inst.asset_class,
                    position_side="long" if row.side == "Sell" else "short",
                    price=price,
                    qty=qty,
                    notional_usd=notional,
                    ts_event_ns=ts_recv_ns,  # the row has no time (module docstring)
                    ts_recv_ns=ts_recv_ns,
                    event_id="%s:%s:%s" % (NAME, row.symbol, row.orderID),
                )
            )
        return out


@dataclass(slots=True)
class _Last:
    """The last known values of one instrument (updates carry only changed fields)."""

    mark: float | None = None
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    funding: float | None = None
    open_interest: float | None = None
    ts_ns: int = 0

    def merge(self, row: _InstRow, frame: Frame) -> None:
        for name, value in (
            ("mark", row.markPrice),
            ("last", row.lastPrice),
            ("bid", row.bidPrice),
            ("ask", row.askPrice),
            ("funding", row.fundingRate),
            ("open_interest", row.openInterest),
        ):
            if value is not None:
                if not math.isfinite(value):
                    raise parse_error(NAME, "non-finite %s" % name, frame)
                setattr(self, name, value)
        if row.timestamp is not None:
            try:
                ts = (datetime.fromisoformat(row.timestamp) - _EPOCH) // _NS * 1000
            except (ValueError, TypeError):
                raise parse_error(NAME, "bad timestamp %r" % row.timestamp, frame) from None
            if not 0 < ts < MAX_NS:
                raise parse_error(NAME, "bad timestamp %r" % row.timestamp, frame)
            self.ts_ns = ts


class PriceParser:
    """Parses ``instrument`` table frames into `Tick` events; one parser per connection.

    Example (``instrument_update.json``): ``{"table":"instrument","action":"update",
    "data":[{"symbol":"XBTUSD","markPrice":64012.3,"timestamp":"2024-03-02T02:44:10.789Z"}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book
        self._last: dict[str, _Last] = {}

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Merge each row into its symbol's state and return one `Tick` per priced row."""
        env = _envelope(frame)
        if env is None or env.table != "instrument":
            return []
        try:
            rows = _INST_ROWS.decode(env.data)
        except msgspec.DecodeError as exc:
            raise parse_error(NAME, exc, frame) from None
        out: list[Event] = []
        for row in rows:
            if env.action == "delete":
                self._last.pop(row.symbol, None)
                continue
            if not self.book.tracked(row.symbol):
                continue
            last = self._last.setdefault(row.symbol, _Last())
            last.merge(row, frame)
            inst = self.book.get(row.symbol)
            price = last.mark if last.mark is not None else last.last
            if inst is not None and price is not None and price > 0:
                out.append(self._tick(inst, last, price, ts_recv_ns))
        return out

    @staticmethod
    def _tick(inst: Instrument, last: _Last, price: float, ts_recv_ns: int) -> Tick:
        oi = last.open_interest
        if oi is not None:
            if inst.category == "quanto":
                oi = None
            elif inst.inverse:
                oi = abs(oi) * inst.contract_size
            else:
                oi = abs(oi) * inst.contract_size * price
        return Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=inst.venue_symbol,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            bid=last.bid if last.bid is not None and last.bid > 0 else None,
            ask=last.ask if last.ask is not None and last.ask > 0 else None,
            open_interest_usd=oi,
            funding_rate=last.funding,
            ts_event_ns=last.ts_ns or ts_recv_ns,
            ts_recv_ns=ts_recv_ns,
        )


class _Product(msgspec.Struct, frozen=True):
    symbol: str  # "XBTUSD"
    typ: str  # "FFWCSX" perpetual, "FFCCSX" dated future, ...
    underlying: str  # "XBT"
    quoteCurrency: str  # "USD", "USDT"
    isInverse: bool = False
    isQuanto: bool = False
    multiplier: float | None = None  # settlement units per contract (per price unit)
    underlyingToSettleMultiplier: float | None = None  # inverse: settle units per coin
    underlyingToPositionMultiplier: float | None = None  # linear: contracts per coin


def _contract(p: _Product) -> tuple[str, float] | None:
    """Return (category, contract_size) of a perpetual, or None when it cannot be sized."""
    if p.isQuanto:
        return "quanto", 1.0
    if p.isInverse:
        if p.multiplier and p.underlyingToSettleMultiplier:
            return "inverse", abs(p.multiplier / p.underlyingToSettleMultiplier)
        return "inverse", 1.0
    if p.underlyingToPositionMultiplier and p.underlyingToPositionMultiplier > 0:
        return "linear", 1.0 / p.underlyingToPositionMultiplier
    return None


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the perpetuals of an ``/api/v1/instrument/active`` response.

    Raises:
        ParseError: on a malformed response.
    """
    try:
        products = msgspec.json.decode(payload, type=list[_Product])
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, payload) from None
    out: list[Instrument] = []
    for p in products:
        sized = _contract(p) if p.typ == PERPETUAL_TYP else None
        if sized is None or not (0 < sized[1] < math.inf):
            continue
        asset = _asset(p.underlying)
        out.append(
            Instrument(
                NAME,
                p.symbol,
                perp_symbol(asset, p.quoteCurrency),
                asset,
                classify(asset, classes),
                p.quoteCurrency,
                inverse=p.isInverse,
                contract_size=sized[1],
                category=sized[0],
            )
        )
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive an inverse ``<COIN>USD`` perpetual (1 USD per contract) from its name.

    Linear names (``…USDT``) give None: their contract sizes (1e-6 XBT, 1 JTO, …) cannot
    be read from the name, and a guess of 1.0 would misstate notionals by orders of size.
    """
    try:
        base, quote = split_concatenated(venue_symbol)
    except ValueError:
        return None
    if quote != "USD" or not base.isalnum():
        return None
    asset = _asset(base)
    return Instrument(
        NAME,
        venue_symbol,
        perp_symbol(asset, quote),
        asset,
        classify(asset, classes),
        quote,
        inverse=True,
        category="inverse",
    )


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return the subscribe request for one connection's topics."""
    return [msgspec.json.encode({"op": "subscribe", "args": list(chunk)}).decode()]


_HEARTBEAT: Final = Heartbeat(interval_s=PING_INTERVAL_S, payload=PING_PAYLOAD)

SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=lambda instruments: ["liquidation"],
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=LiquidationParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            heartbeat=_HEARTBEAT,
            stale_after_s=30.0,
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=lambda instruments: ["instrument:%s" % i.venue_symbol for i in instruments],
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=PriceParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            heartbeat=_HEARTBEAT,
            stale_after_s=30.0,
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="no timestamp on liquidations (receive time used); quanto contracts (ETHUSD…) "
    "and dated futures not counted",
)
