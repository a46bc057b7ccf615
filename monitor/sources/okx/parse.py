"""OKX v5 wire schema and frame parsers (pure, no I/O); see `monitor.sources.okx`."""

from __future__ import annotations

from typing import Final

import msgspec

from monitor.events import Event, Liquidation, Tick
from monitor.sources._checks import (
    PARSE_ERRORS,
    checked_notional,
    known,
    optional,
    parse_error,
    positive,
    ts_ns_text,
)
from monitor.sources.base import Frame, Instrument, InstrumentBook

NAME: Final = "okx"


class Arg(msgspec.Struct, frozen=True):
    """The ``arg`` of a push or an ack."""

    channel: str = ""  # "liquidation-orders", "tickers", "mark-price"
    instType: str = ""  # liquidation-orders: "SWAP" | "FUTURES"
    instId: str = ""  # tickers / mark-price: "BTC-USDT-SWAP"


class Detail(msgspec.Struct, frozen=True):
    """One liquidation in ``data[].details[]``."""

    side: str  # liquidation ORDER side: "sell" ⇒ long liquidated
    sz: str  # size, contracts (× ctVal)
    bkPx: str  # bankruptcy price
    ts: str  # ms, as a string
    posSide: str = ""  # "long" | "short" | "net" (net mode: no information)
    bkLoss: str = ""  # bankruptcy loss


class LiqData(msgspec.Struct, frozen=True):
    """One instrument's liquidations in ``data[]``."""

    instId: str  # "BTC-USDT-SWAP"
    details: list[Detail] = []
    instType: str = ""  # "SWAP" | "FUTURES"
    uly: str = ""  # underlying, "BTC-USDT"


class PxData(msgspec.Struct, frozen=True):
    """One ``tickers``, ``mark-price`` or ``open-interest`` row (only the fields we read)."""

    instId: str
    ts: str  # ms, as a string
    last: str | None = None  # tickers: last trade price
    bidPx: str | None = None  # tickers: best bid
    askPx: str | None = None  # tickers: best ask
    markPx: str | None = None  # mark-price: mark price
    oi: str | None = None  # open-interest: contracts (× ctVal: base units, USD if inverse)
    oiCcy: str | None = None  # open-interest: the same in coins (base currency)


class LiqFrame(msgspec.Struct, frozen=True):
    """A liquidation push, or an event (subscribe ack, error, notice)."""

    arg: Arg | None = None
    data: list[LiqData] = []
    event: str = ""  # "subscribe" | "error" | "notice" | ""
    code: str = ""  # error/notice code
    msg: str = ""  # error/notice text


class PxFrame(msgspec.Struct, frozen=True):
    """A ``tickers`` / ``mark-price`` push, or an event."""

    arg: Arg | None = None
    data: list[PxData] = []
    event: str = ""
    code: str = ""
    msg: str = ""


_LIQ_DECODER: Final = msgspec.json.Decoder(LiqFrame)
_PX_DECODER: Final = msgspec.json.Decoder(PxFrame)


def is_pong(frame: Frame) -> bool:
    """Return True for the text ``pong`` answering our ``ping``."""
    return frame in ("pong", b"pong")


def checked_event(msg: LiqFrame | PxFrame) -> None:
    """Raise ValueError for an ``error`` event; acks and notices pass."""
    if msg.event == "error":
        raise ValueError("error %s: %s" % (msg.code, msg.msg))


class LiquidationParser:
    """Parses ``liquidation-orders`` pushes (``liquidation-orders_swap.json``).

    Example: ``{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":
    [{"bkLoss":"0","bkPx":"0.007831","posSide":"short","side":"buy","sz":"13",
    "ts":"1692266434010"}],"instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per detail; acks, notices and pongs give []."""
        if is_pong(frame):
            return []
        out: list[Event] = []
        try:
            msg = _LIQ_DECODER.decode(frame)
            checked_event(msg)
            for data in msg.data:
                inst = known(self.book, data.instId, "instrument")
                out.extend(liquidation(inst, d, ts_recv_ns) for d in data.details)
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None
        return out


def liquidation(inst: Instrument, d: Detail, ts_recv_ns: int) -> Liquidation:
    """Return the `Liquidation` of one detail row of `inst`."""
    if d.side not in ("sell", "buy"):
        raise ValueError("unknown side %r" % d.side)
    contracts = positive(d.sz, "sz")
    price = positive(d.bkPx, "bkPx")
    if inst.inverse:  # sz × ctVal is USD
        notional = contracts * inst.contract_size
        qty = notional / price
    else:  # sz × ctVal is base units
        qty = contracts * inst.contract_size
        notional = qty * price
    checked_notional(qty, notional)
    return Liquidation(
        exchange=NAME,
        symbol=inst.symbol,
        venue_symbol=inst.venue_symbol,
        asset=inst.asset,
        asset_class=inst.asset_class,
        position_side="long" if d.side == "sell" else "short",
        price=price,
        qty=qty,
        notional_usd=notional,
        ts_event_ns=ts_ns_text(d.ts),
        ts_recv_ns=ts_recv_ns,
        event_id="%s:%s:%s:%s:%s:%s" % (NAME, inst.venue_symbol, d.ts, d.side, d.sz, d.bkPx),
    )


class PriceParser:
    """Merges ``tickers``, ``mark-price`` and ``open-interest`` pushes into Ticks.

    ``tickers`` gives last, bid and ask; ``mark-price`` the mark; ``open-interest`` the OI
    (``oiCcy`` coins, else ``oi`` contracts × ctVal), valued at the tick's price.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book
        self.state: dict[str, dict[str, float | None]] = {}

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` per row once a price is known; events and pongs give []."""
        if is_pong(frame):
            return []
        out: list[Event] = []
        try:
            msg = _PX_DECODER.decode(frame)
            checked_event(msg)
            for row in msg.data:
                tick = self._tick(row, ts_recv_ns)
                if tick is not None:
                    out.append(tick)
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None
        return out

    def _tick(self, row: PxData, ts_recv_ns: int) -> Tick | None:
        inst = known(self.book, row.instId, "instrument")
        fresh = {
            "mark": optional(row.markPx, "markPx"),
            "last": optional(row.last, "last"),
            "bid": optional(row.bidPx, "bidPx"),
            "ask": optional(row.askPx, "askPx"),
            "oi_coins": _oi_coins(inst, row),
        }
        ts = ts_ns_text(row.ts)
        merged = {**self.state.get(row.instId, {})}
        merged.update((k, v) for k, v in fresh.items() if v)  # 0 or absent: keep the old
        self.state[row.instId] = merged
        price = merged.get("mark") or merged.get("last")
        if not price:
            return None
        return Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=row.instId,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            bid=merged.get("bid"),
            ask=merged.get("ask"),
            open_interest_usd=_oi_usd(merged.get("oi_coins"), price),
            ts_event_ns=ts,
            ts_recv_ns=ts_recv_ns,
        )


def _oi_coins(inst: Instrument, row: PxData) -> float | None:
    """Return open interest in coins: ``oiCcy``, else ``oi`` contracts × ctVal (linear)."""
    coins = optional(row.oiCcy, "oiCcy")
    if coins is None and not inst.inverse:
        contracts = optional(row.oi, "oi")
        coins = None if contracts is None else contracts * inst.contract_size
    return coins


def _oi_usd(coins: float | None, price: float) -> float | None:
    return None if coins is None else coins * price
