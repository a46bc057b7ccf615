"""Bybit v5 wire schema and frame parsers (pure, no I/O); see `monitor.sources.bybit`."""

from __future__ import annotations

from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import Event, Liquidation, Tick
from monitor.sources._checks import (
    PARSE_ERRORS,
    checked_notional,
    known,
    optional,
    parse_error,
    positive,
    ts_ns,
)
from monitor.sources.base import Frame, InstrumentBook

NAME: Final = "bybit"


def fail(exc: Exception, frame: Frame) -> ParseError:
    """Return the `ParseError` for a frame that raised `exc`."""
    return parse_error(NAME, exc, frame)


class LiqRow(msgspec.Struct, frozen=True):
    """One ``allLiquidation`` row."""

    T: int  # update time, ms
    s: str  # symbol
    S: str  # POSITION side: "Buy" ⇒ long liquidated
    v: str  # executed size: linear base coin, inverse USD contracts
    p: str  # bankruptcy price


class OldLiq(msgspec.Struct, frozen=True):
    """The object of the deprecated ``liquidation.{symbol}`` topic."""

    updatedTime: int  # ms
    symbol: str
    side: str  # POSITION side, as ``S`` above
    size: str  # as ``v`` above
    price: str  # bankruptcy price


class LiqFrame(msgspec.Struct, frozen=True):
    """A liquidation push, or an ack/pong (``success``, ``op``, ``ret_msg``)."""

    topic: str = ""  # "allLiquidation.ROSEUSDT"
    data: list[LiqRow] | OldLiq | None = None  # array (current) or object (deprecated)
    success: bool = True  # acks: False when a subscription was refused
    ret_msg: str = ""  # acks: the refusal reason, or "pong"


class TickerData(msgspec.Struct, frozen=True):
    """``tickers`` data; in a delta, absent (None) fields are unchanged."""

    symbol: str
    markPrice: str | None = None  # mark price
    lastPrice: str | None = None  # last trade price
    bid1Price: str | None = None  # best bid
    ask1Price: str | None = None  # best ask
    fundingRate: str | None = None  # current funding rate
    openInterest: str | None = None  # linear: base coin; inverse: USD contracts
    openInterestValue: str | None = None  # linear: USD value; inverse: coin value


class TickerFrame(msgspec.Struct, frozen=True):
    """A ``tickers`` push (``type`` snapshot or delta), or an ack/pong."""

    topic: str = ""
    type: str = ""  # "snapshot" | "delta"
    ts: int = 0  # ms
    data: TickerData | None = None
    success: bool = True
    ret_msg: str = ""


_LIQ_DECODER: Final = msgspec.json.Decoder(LiqFrame)
_TICKER_DECODER: Final = msgspec.json.Decoder(TickerFrame)


def refused(msg: LiqFrame | TickerFrame) -> None:
    """Raise ValueError for an ack that refused a subscription (``success: false``)."""
    if not msg.success:
        raise ValueError("request refused: %s" % msg.ret_msg)


class LiquidationParser:
    """Parses ``allLiquidation`` (and deprecated ``liquidation``) frames.

    Example (``allLiquidation_linear.json``): ``{"topic":"allLiquidation.ROSEUSDT",
    "type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT",
    "S":"Sell","v":"20000","p":"0.04499"}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per row; acks and pongs give []."""
        try:
            msg = _LIQ_DECODER.decode(frame)
            refused(msg)
            if isinstance(msg.data, OldLiq):
                d = msg.data
                return [self._event(d.symbol, d.side, d.size, d.price, d.updatedTime, ts_recv_ns)]
            return [self._event(r.s, r.S, r.v, r.p, r.T, ts_recv_ns) for r in msg.data or ()]
        except PARSE_ERRORS as exc:
            raise fail(exc, frame) from None

    def _event(
        self, venue_symbol: str, side: str, size_text: str, price_text: str, ms: int, recv: int
    ) -> Liquidation:
        if side not in ("Buy", "Sell"):
            raise ValueError("unknown side %r" % side)
        inst = known(self.book, venue_symbol)
        size = positive(size_text, "size")
        price = positive(price_text, "price")
        qty, notional = (size / price, size) if inst.inverse else (size, size * price)
        checked_notional(qty, notional)
        return Liquidation(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=venue_symbol,
            asset=inst.asset,
            asset_class=inst.asset_class,
            position_side="long" if side == "Buy" else "short",
            price=price,
            qty=qty,
            notional_usd=notional,
            ts_event_ns=ts_ns(ms),
            ts_recv_ns=recv,
            event_id="%s:%s:%d:%s:%s:%s" % (NAME, venue_symbol, ms, side, size_text, price_text),
        )


class TickerParser:
    """Parses ``tickers`` snapshots and deltas into Ticks; keeps per-symbol state."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book
        self.state: dict[str, dict[str, str]] = {}

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Merge the frame into the symbol's state and return one `Tick`, or []."""
        try:
            msg = _TICKER_DECODER.decode(frame)
            refused(msg)
            if msg.data is None:
                return []
            return self._tick(msg, msg.data, ts_recv_ns)
        except PARSE_ERRORS as exc:
            raise fail(exc, frame) from None

    def _tick(self, msg: TickerFrame, data: TickerData, ts_recv_ns: int) -> list[Event]:
        inst = self.book.get(data.symbol)
        if inst is None:
            raise ValueError("unknown symbol %r" % data.symbol)
        fields = {k: v for k in data.__struct_fields__ if (v := getattr(data, k)) is not None}
        # a snapshot replaces everything known; a delta updates what it carries
        known = {} if msg.type == "snapshot" else self.state.get(data.symbol, {})
        merged = {**known, **fields}
        price_text = merged.get("markPrice") or merged.get("lastPrice")
        if not price_text:
            self.state[data.symbol] = merged
            return []  # a delta before any snapshot, without a price yet
        price = positive(price_text, "price")
        oi = optional(merged.get("openInterest" if inst.inverse else "openInterestValue"), "oi")
        tick = Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=data.symbol,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            bid=optional(merged.get("bid1Price"), "bid") or None,
            ask=optional(merged.get("ask1Price"), "ask") or None,
            open_interest_usd=oi,
            funding_rate=optional(merged.get("fundingRate"), "funding rate", signed=True),
            ts_event_ns=ts_ns(msg.ts),
            ts_recv_ns=ts_recv_ns,
        )
        self.state[data.symbol] = merged  # only after the frame proved valid
        return [tick]
