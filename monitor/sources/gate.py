"""Gate USDT-settled perpetual futures.

Streams: ``wss://fx-ws.gateio.ws/v4/ws/usdt`` — channels ``futures.public_liquidates``
(payload ``["!all"]``), ``futures.tickers`` and ``futures.book_ticker`` (per contract).
Docs: https://www.gate.com/docs/developers/futures/ws/en/#public-liquidates-order-api
Side convention: the sign of ``size`` is the side of the forced ORDER: negative (a sell)
means a LONG position was liquidated, positive (a buy) a SHORT one. Gate's docs call the
field "liquidation order quantity" (its REST ``FuturesLiquidate.size`` is a *position*
size, which would mean the opposite); we follow the WS wording, the order-side convention
of tardis/aggr for ``futures.trades`` and the public consumers seen (``size < 0`` ⇒ long).
UNCERTAIN: calibrate against live data (long cascades coincide with falling prices).
Units: ``size`` in contracts (string or integer); base qty = |size| × ``quanto_multiplier``
from ``GET /api/v4/futures/usdt/contracts``; price in USDT; notional_usd = qty × price.
Quirks: since 2026-08-20 every liquidation order is pushed, batched per contract per ~1 s
(flushed early at 20); before, at most one per contract per second. The per-row ``time``
switched from seconds to milliseconds on that date, so a value below 1e11 is read as
seconds. Application ping ``{"channel":"futures.ping"}`` answered by ``futures.pong``.
A contract missing from the catalogue cannot be sized (multipliers range from 1e-4 to 10),
so `fallback` returns None and such a row raises `ParseError` rather than guessing.
Fixtures: ``tests/fixtures/payloads/gate/``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources._checks import (
    INT64_MS,
    MAX_NS,
    PARSE_ERRORS,
    checked_notional,
    optional,
    parse_error,
    positive,
    ts_ns,
)
from monitor.sources.base import (
    Frame,
    Heartbeat,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
)
from monitor.symbols import classify, perp_symbol

NAME: Final = "gate"
WS_URL: Final = "wss://fx-ws.gateio.ws/v4/ws/usdt"
CONTRACTS_URL: Final = "https://api.gateio.ws/api/v4/futures/usdt/contracts"
LIQUIDATIONS_CHANNEL: Final = "futures.public_liquidates"
TICKERS_CHANNEL: Final = "futures.tickers"
BOOK_TICKER_CHANNEL: Final = "futures.book_ticker"
PING_PAYLOAD: Final = '{"channel":"futures.ping"}'
PING_INTERVAL_S: Final = 15.0  # aggr pings every 18 s; Gate closes idle sockets
MAX_TOPICS_PER_CONN: Final = 100  # our choice: Gate documents no hard limit
SECONDS_BELOW: Final = 100_000_000_000  # a row time below this is seconds (pre 2026-08-20)


class _Error(msgspec.Struct, frozen=True):
    code: int = 0  # Gate error code
    message: str = ""  # human text


class _Envelope(msgspec.Struct, frozen=True):
    channel: str = ""  # "futures.public_liquidates", "futures.pong", ...
    event: str = ""  # "subscribe" (ack), "update" (data), "" (pong)
    time_ms: int | None = None  # server time, ms
    error: _Error | None = None  # set on a rejected request
    result: msgspec.Raw = msgspec.Raw(b"null")  # list or object, per channel


class _LiqRow(msgspec.Struct, frozen=True):
    contract: str  # venue symbol, "BTC_USDT"
    price: str | float  # liquidation order price, USDT
    size: str | float  # signed contracts: < 0 sell order (long liquidated)
    time: int | None = None  # seconds before 2026-08-20, ms after
    time_ms: int | None = None  # ms, in older documentation


class _TickerRow(msgspec.Struct, frozen=True):
    contract: str  # venue symbol
    last: str = ""  # last trade price
    mark_price: str = ""  # mark price
    funding_rate: str = ""  # current funding rate (fraction per interval)
    total_size: str = ""  # open interest, contracts


class _BookTicker(msgspec.Struct, frozen=True):
    s: str  # venue symbol
    b: str = ""  # best bid price ("" on an empty side)
    a: str = ""  # best ask price


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_LIQ_ROWS: Final = msgspec.json.Decoder(list[_LiqRow])
_TICKER_ROWS: Final = msgspec.json.Decoder(list[_TickerRow])
_BOOK_TICKER: Final = msgspec.json.Decoder(_BookTicker)


def _envelope(frame: Frame) -> _Envelope:
    try:
        env = _ENVELOPE.decode(frame)
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, frame) from None
    if env.error is not None:
        raise parse_error(NAME, "error %d %s" % (env.error.code, env.error.message), frame)
    return env


def _row_ns(row: _LiqRow) -> int:
    if row.time_ms is not None:
        ms = row.time_ms
    elif row.time is not None:
        ms = row.time * 1000 if row.time < SECONDS_BELOW else row.time
    else:
        msg = "row without time"
        raise ValueError(msg)
    return ts_ns(ms, limit_ms=INT64_MS)


class LiquidationParser:
    """Parses ``futures.public_liquidates`` frames; see ``update_ms_string_size.json``.

    Example: ``{"channel":"futures.public_liquidates","event":"update","time":1541505434,
    "result":[{"price":"215.1","size":"-124.5","time":1541486601123,"contract":"BTC_USDT"}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per row; acks, pongs and other channels give []."""
        env = _envelope(frame)
        if env.channel != LIQUIDATIONS_CHANNEL or env.event != "update":
            return []
        try:
            return [self._event(row, ts_recv_ns) for row in _LIQ_ROWS.decode(env.result)]
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None

    def _event(self, row: _LiqRow, ts_recv_ns: int) -> Liquidation:
        inst = self.book.get(row.contract)
        if inst is None:
            raise ValueError("unknown contract %r (no quanto_multiplier)" % row.contract)
        price = positive(row.price, "price")
        size = float(row.size)
        qty = abs(size) * inst.contract_size
        notional = qty * price
        checked_notional(qty, notional)
        ts = _row_ns(row)
        return Liquidation(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=row.contract,
            asset=inst.asset,
            asset_class=inst.asset_class,
            position_side="long" if size < 0 else "short",
            price=price,
            qty=qty,
            notional_usd=notional,
            ts_event_ns=ts,
            ts_recv_ns=ts_recv_ns,
            event_id="%s:%s:%d:%s:%s" % (NAME, row.contract, ts // 1_000_000, row.size, row.price),
        )


class PriceParser:
    """Parses ``futures.tickers`` (→ `Tick`) and ``futures.book_ticker`` (→ state) frames.

    Book tickers only update the best bid/ask kept per contract; each tickers row then
    gives one `Tick` with mark price, funding, open interest and the latest bid/ask.
    Example: ``{"channel":"futures.tickers","event":"update","time_ms":1,
    "result":[{"contract":"BTC_USDT","last":"118.4","mark_price":"118.35"}]}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book
        self._bbo: dict[str, tuple[float | None, float | None]] = {}

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` per known contract of a tickers frame; others give []."""
        env = _envelope(frame)
        if env.event != "update":
            return []
        try:
            if env.channel == BOOK_TICKER_CHANNEL:
                bbo = _BOOK_TICKER.decode(env.result)
                bid = optional(bbo.b, "bid", signed=True)
                ask = optional(bbo.a, "ask", signed=True)
                if (bid is not None and bid <= 0) or (ask is not None and ask <= 0):
                    msg = "bid/ask not positive"
                    raise ValueError(msg)
                if self.book.tracked(bbo.s):
                    self._bbo[bbo.s] = (bid, ask)
                return []
            if env.channel != TICKERS_CHANNEL:
                return []
            rows = _TICKER_ROWS.decode(env.result)
            ts = env.time_ms * 1_000_000 if env.time_ms is not None else ts_recv_ns
            if not 0 < ts < MAX_NS:
                msg = "bad time_ms"
                raise ValueError(msg)
            return [t for row in rows if (t := self._tick(row, ts, ts_recv_ns))]
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None

    def _tick(self, row: _TickerRow, ts: int, ts_recv_ns: int) -> Tick | None:
        inst = self.book.get(row.contract)
        if inst is None:
            return None
        price = positive(row.mark_price or row.last, "price")
        oi = optional(row.total_size, "open interest", signed=True)
        bid, ask = self._bbo.get(row.contract, (None, None))
        return Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=row.contract,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            bid=bid,
            ask=ask,
            open_interest_usd=None if oi is None else abs(oi) * inst.contract_size * price,
            funding_rate=optional(row.funding_rate, "funding rate", signed=True),
            ts_event_ns=ts,
            ts_recv_ns=ts_recv_ns,
        )


class _Contract(msgspec.Struct, frozen=True):
    name: str  # "BTC_USDT"
    type: str = "direct"  # "direct" (linear) or "inverse"
    quanto_multiplier: str = ""  # base units per contract


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the linear USDT perpetuals of a ``/futures/usdt/contracts`` response.

    Raises:
        ParseError: on a malformed response.
    """
    try:
        rows = msgspec.json.decode(payload, type=list[_Contract])
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, payload) from None
    out: list[Instrument] = []
    for row in rows:
        base, _, quote = row.name.partition("_")
        try:
            size = float(row.quanto_multiplier)
        except ValueError:
            continue
        if row.type != "direct" or not base or not quote or not (0 < size < math.inf):
            continue
        out.append(
            Instrument(
                NAME,
                row.name,
                perp_symbol(base, quote),
                base,
                classify(base, classes),
                quote,
                contract_size=size,
                category="usdt",
            )
        )
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Return None: a Gate contract's size cannot be derived from its name (see module doc)."""
    del venue_symbol, classes
    return None


def liquidation_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return the single all-market topic (``!all`` covers every contract)."""
    del instruments
    return ["%s:!all" % LIQUIDATIONS_CHANNEL]


def price_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``<channel>:<contract>`` for tickers and book tickers of every contract."""
    return [
        "%s:%s" % (channel, i.venue_symbol)
        for i in instruments
        for channel in (TICKERS_CHANNEL, BOOK_TICKER_CHANNEL)
    ]


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return one subscribe request per channel of the ``<channel>:<contract>`` topics.

    Gate's request carries ``time`` (unix seconds); it is read here, at connect time,
    because `StreamSpec.subscribe` gets no clock.
    """
    by_channel: dict[str, list[str]] = {}
    for topic in chunk:
        channel, _, contract = topic.partition(":")
        by_channel.setdefault(channel, []).append(contract)
    now_s = int(time.time())
    return [
        msgspec.json.encode(
            {"time": now_s, "channel": channel, "event": "subscribe", "payload": contracts}
        ).decode()
        for channel, contracts in by_channel.items()
    ]


_HEARTBEAT: Final = Heartbeat(interval_s=PING_INTERVAL_S, payload=PING_PAYLOAD)

SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=liquidation_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=LiquidationParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            heartbeat=_HEARTBEAT,
            stale_after_s=60.0,
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=price_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=PriceParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            heartbeat=_HEARTBEAT,
            stale_after_s=60.0,
        ),
    ),
    instruments_urls=(CONTRACTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="size sign UNCERTAIN (order side assumed); contracts missing from the catalogue "
    "cannot be sized; BTC-settled contracts not covered",
)
