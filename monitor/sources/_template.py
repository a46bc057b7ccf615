"""<Venue> <market> — copy this file to start a new venue adapter.

Streams: ``wss://example.invalid/ws`` — channels ``liquidations.<SYMBOL>``, ``ticker.<SYMBOL>``.
Docs: <link to the venue's doc page>.
Side convention: ``side`` is the side of the forced ORDER: ``sell`` means a LONG position
was liquidated, ``buy`` a short one. (Spell out the venue's convention here, always.)
Units: ``qty`` in contracts × contract size (base units); price in quote currency.
Quirks: <throttling, snapshots replayed on subscribe, forced disconnects, string times>.
Fixtures: ``tests/fixtures/payloads/<venue>/<channel>_<variant>.json``.

Checklist for a new venue: copy this file; add fixtures per message variant (data, ack,
heartbeat, error, unknown fields); golden tests in ``tests/unit/sources/test_<venue>.py``;
register the spec in ``monitor/sources/__init__.py``; add the venue to the README table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import Event, Liquidation
from monitor.sources.base import (
    Frame,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
    excerpt,
)

NAME: Final = "template"
WS_URL: Final = "wss://example.invalid/ws"
MAX_TOPICS_PER_CONN: Final = 100


class _Row(msgspec.Struct, frozen=True):
    """One liquidation row; field names are the wire names."""

    s: str  # venue symbol
    S: str  # order side: "buy" | "sell"
    q: str  # quantity, contracts
    p: str  # price
    T: int  # event time, ms


class _Msg(msgspec.Struct, frozen=True):
    topic: str = ""
    data: list[_Row] = []


_DECODER: Final = msgspec.json.Decoder(_Msg)


class LiquidationParser:
    """Parses ``liquidations.*`` frames.

    Example: ``{"topic":"liquidations.BTCUSDT",
    "data":[{"s":"BTCUSDT","S":"sell","q":"2","p":"9.5","T":1}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per row; acks (no ``data``) give []."""
        try:
            msg = _DECODER.decode(frame)
        except msgspec.DecodeError as exc:
            raise ParseError("%s: %s: %s" % (NAME, exc, excerpt(frame))) from None
        out: list[Event] = []
        for row in msg.data:
            inst = self.book.get(row.s)
            if inst is None:
                raise ParseError("%s: unknown symbol %r: %s" % (NAME, row.s, excerpt(frame)))
            qty = float(row.q) * inst.contract_size
            price = float(row.p)
            ts = row.T * 1_000_000
            out.append(
                Liquidation(
                    exchange=NAME,
                    symbol=inst.symbol,
                    venue_symbol=row.s,
                    asset=inst.asset,
                    asset_class=inst.asset_class,
                    position_side="long" if row.S == "sell" else "short",
                    price=price,
                    qty=qty,
                    notional_usd=qty * price,
                    ts_event_ns=ts,
                    ts_recv_ns=ts_recv_ns,
                    event_id="%s:%s:%d:%s:%s" % (NAME, row.s, row.T, row.S, row.q),
                )
            )
        return out


def topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return one liquidation topic per instrument."""
    return ["liquidations.%s" % i.venue_symbol for i in instruments]


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return the subscribe message for one connection's topics."""
    return [msgspec.json.encode({"op": "subscribe", "args": list(chunk)}).decode()]


SPEC: Final = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=LiquidationParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
        ),
    ),
)
