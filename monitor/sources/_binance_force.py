"""Binance ``forceOrder`` frames → sampled `Liquidation` events (pure, no I/O).

Shared by USDⓈ-M and COIN-M (the venue modules hold the side convention and the units).
The hot path is written for throughput (issue 7): one msgspec decode straight into structs
holding only the fields we read, one dict look-up per frame for everything derived from
the instrument, each number converted once, inline range checks, one f-string for the
``event_id``. The instrument table is dropped when the book is updated (`version`).
A burst path (queued frames joined into one JSON array, one decode) was measured and
dropped: about 2 % fewer instructions per frame at 64 frames per burst.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Side
from monitor.sources._checks import MAX_TS_MS, PARSE_ERRORS, known, parse_error
from monitor.sources.base import Frame, InstrumentBook

INF: Final = float("inf")


class Order(msgspec.Struct, frozen=True, gc=False):
    """The ``o`` object of a ``forceOrder`` event (the fields we read; wire names)."""

    s: str  # symbol, e.g. "BTCUSDT", "XAUUSDT", "BTCUSD_PERP"
    S: str  # side of the liquidation ORDER: "SELL" ⇒ long liquidated
    q: str = "0"  # original quantity (USDⓈ-M base units; COIN-M contracts)
    p: str = "0"  # order price
    ap: str = "0"  # average fill price
    z: str = "0"  # accumulated filled quantity (same unit as q)
    T: int = 0  # trade time, ms


class ForceOrder(msgspec.Struct, frozen=True, gc=False):
    """A ``forceOrder`` payload (the ``data`` of a combined-stream envelope)."""

    E: int = 0  # event time, ms
    o: Order | None = None  # the liquidation order


class ForceOrderFrame(msgspec.Struct, frozen=True, gc=False):
    """A combined-stream envelope, a bare payload (``/ws`` route) or a request ack/error."""

    data: ForceOrder | None = None  # the wrapped payload
    E: int = 0  # bare payload: event time, ms
    o: Order | None = None  # bare payload: the order
    error: msgspec.Raw | None = None  # request error {"code":..,"msg":..}


_DECODER: Final = msgspec.json.Decoder(ForceOrderFrame)
_POSITION: Final[dict[str, Side]] = {"SELL": "long", "BUY": "short"}  # forced ORDER side
_KNOWN_MAX: Final = 65_536  # per-connection cache of symbols seen (the catalogue is ~600)


class _Known(NamedTuple):
    """What a liquidation needs from its instrument, computed once per venue symbol."""

    symbol: str
    asset: str
    asset_class: AssetClass
    inverse: bool
    contract_size: float
    id_prefix: str  # "<exchange>:<venue symbol>:", the head of every event_id


class LiquidationParser:
    """Parses ``forceOrder`` frames into sampled liquidations; made per connection.

    Example (``binance_usdm/forceOrder_combined.json``): ``{"stream":"!forceOrder@arr",
    "data":{"e":"forceOrder","E":1665523974222,"o":{"s":"BTCUSDT","S":"SELL","q":"0.009",
    "p":"18917.15","ap":"18990.00","z":"0.009","T":1665523974217,...}}}``.

    Sizes: ``z`` (filled) when positive, else ``q``; price: ``ap`` (average fill) when
    positive, else ``p``. ``event_id`` is ``<exchange>:<symbol>:<ms>:<side>:<size>:<price>``
    with the size and price exactly as the venue wrote them.
    """

    exchange: str = ""  # set by the venue subclass

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book
        self._known: dict[str, _Known] = {}
        self._version = book.version

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation`; acks ``{"result":null,"id":1}`` give [].

        Raises:
            ParseError: a malformed frame, an unknown symbol, a bad number or time.
        """
        try:
            msg = _DECODER.decode(frame)
            if msg.error is not None:
                raise ValueError("request error %s" % bytes(msg.error).decode())
            data = msg.data
            if data is None:
                order, event_ms = msg.o, msg.E
            else:
                order, event_ms = data.o, data.E
            if order is None:
                return []
            return [self._liquidation(order, event_ms, ts_recv_ns)]
        except PARSE_ERRORS as exc:
            raise parse_error(self.exchange, exc, frame) from None

    def _liquidation(self, order: Order, event_ms: int, ts_recv_ns: int) -> Liquidation:
        """Return the liquidation of one force order (linear or inverse)."""
        if self.book.version != self._version:  # a catalogue refresh may change sizes
            self._known.clear()
            self._version = self.book.version
        venue_symbol = order.s
        try:
            symbol, asset, asset_class, inverse, contract_size, id_prefix = self._known[
                venue_symbol
            ]
        except KeyError:
            symbol, asset, asset_class, inverse, contract_size, id_prefix = self._learn(
                venue_symbol
            )
        size, size_text = _amount(order.z, order.q, "qty")
        price, price_text = _amount(order.ap, order.p, "price")
        if inverse:  # COIN-M: size is contracts of contract_size USD each
            notional = size * contract_size
            qty = notional / price
        else:
            qty = size * contract_size
            notional = qty * price
        if not (0.0 < qty < INF and 0.0 < notional < INF):
            raise ValueError("qty/notional out of range: %r / %r" % (qty, notional))
        ms = order.T or event_ms
        if not 0 < ms < MAX_TS_MS:
            raise ValueError("timestamp out of range: %r ms" % ms)
        side = order.S
        position = _POSITION.get(side)
        if position is None:
            raise ValueError("unknown side %r" % side)
        return Liquidation(
            exchange=self.exchange,
            symbol=symbol,
            venue_symbol=venue_symbol,
            asset=asset,
            asset_class=asset_class,
            position_side=position,
            price=price,
            qty=qty,
            notional_usd=notional,
            ts_event_ns=ms * 1_000_000,
            ts_recv_ns=ts_recv_ns,
            completeness="sampled",
            event_id=f"{id_prefix}{ms}:{side}:{size_text}:{price_text}",
        )

    def _learn(self, venue_symbol: str) -> _Known:
        """Look `venue_symbol` up in the book (or its fallback) and remember what we need."""
        inst = known(self.book, venue_symbol)
        entry = _Known(
            inst.symbol,
            inst.asset,
            inst.asset_class,
            inst.inverse,
            inst.contract_size,
            "%s:%s:" % (self.exchange, venue_symbol),
        )
        if len(self._known) >= _KNOWN_MAX:  # made-up names must not grow it without bound
            self._known.clear()
        self._known[venue_symbol] = entry
        return entry


def _amount(filled: str, fallback: str, what: str) -> tuple[float, str]:
    """Return `filled` (``z``/``ap``) when positive, else `fallback` (``q``/``p``): value, text.

    Raises:
        ValueError: the chosen text is not a finite number > 0 (or `filled` not a number).
    """
    value = float(filled) if filled else 0.0
    if not value > 0.0:  # nothing filled (or NaN): the order's own figure
        filled = fallback
        value = float(filled)
    if not value < INF or not value > 0.0:
        raise ValueError("%s must be finite and > 0, got %r" % (what, filled))
    return value, filled
