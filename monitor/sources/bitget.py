"""Bitget v3 (UTA) futures: USDT-, coin- and USDC-margined perpetuals.

Streams: ``wss://ws.bitget.com/v3/ws/public`` — topic ``liquidation`` per ``instType``
(``usdt-futures``, ``coin-futures``, ``usdc-futures``; no symbol: the whole product line)
and ``ticker`` per symbol. The liquidation topic exists only in v3/UTA.
Docs: https://www.bitget.com/api-doc/uta/websocket/public/Liquidation-Channel
Side convention: ``side`` is the side of the liquidated POSITION (inverse of the order
side): ``buy`` means a LONG position was liquidated, ``sell`` a SHORT one.
Units: ``amount`` is in QUOTE currency (USDT/USDC, USD for coin-futures), so
notional_usd = amount and base qty = amount / price; ``price`` in quote; ``ts`` ms string.
Quirks: the feed is AGGREGATED, hence ``completeness="sampled"``: one copy of the docs
says a push every 20 s (or 10,000 records) with all platform liquidations, another says
once a second keeping only the LARGEST liquidation per symbol per side (UNCERTAIN which).
Text ``ping`` every < 30 s, answered by ``pong``; ~10 messages/s per connection. Ticker
field names follow v3 (``lastPrice``, ``bid1Price``, ``ask1Price``); the v2 names
(``lastPr``, ``bidPr``, ``askPr``) are accepted too. The ticker fixture is composed.
Fixtures: ``tests/fixtures/payloads/bitget/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources._checks import (
    INT64_MS,
    PARSE_ERRORS,
    checked_notional,
    known,
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
from monitor.symbols import classify, perp_symbol, split_concatenated

NAME: Final = "bitget"
WS_URL: Final = "wss://ws.bitget.com/v3/ws/public"
REST_URL: Final = "https://api.bitget.com/api/v3/market/instruments?category=%s"
INST_TYPES: Final = ("usdt-futures", "coin-futures", "usdc-futures")
INST_TYPE_OF_QUOTE: Final = {"USDT": "usdt-futures", "USD": "coin-futures", "USDC": "usdc-futures"}
PING_PAYLOAD: Final = "ping"
PING_INTERVAL_S: Final = 25.0  # the venue closes after 30 s without a ping
MAX_TOPICS_PER_CONN: Final = 50  # Bitget recommends fewer than 50 channels per connection


class _Arg(msgspec.Struct, frozen=True):
    instType: str = ""  # "usdt-futures", ...
    topic: str = ""  # "liquidation", "ticker"
    symbol: str = ""  # ticker only


class _Envelope(msgspec.Struct, frozen=True):
    event: str = ""  # "subscribe" (ack), "error"; absent on pushes
    code: int | str = 0  # error code
    msg: str = ""  # error text
    arg: _Arg = _Arg()  # subscription coordinates
    action: str = ""  # "snapshot" | "update"
    data: msgspec.Raw = msgspec.Raw(b"[]")  # rows, typed per topic
    ts: int | str | None = None  # push time, ms


class _LiqRow(msgspec.Struct, frozen=True):
    symbol: str  # venue symbol, "BTCUSDT"
    side: Literal["buy", "sell"]  # POSITION side: buy = long liquidated
    price: str  # liquidation price, quote currency
    amount: str  # size in QUOTE currency (USDT notional)
    ts: str | int  # ms


class _TickerRow(msgspec.Struct, frozen=True):
    symbol: str  # venue symbol
    markPrice: str = ""  # mark price
    lastPrice: str = ""  # last trade price (v3)
    lastPr: str = ""  # last trade price (v2 name)
    bid1Price: str = ""  # best bid (v3)
    bidPr: str = ""  # best bid (v2 name)
    ask1Price: str = ""  # best ask (v3)
    askPr: str = ""  # best ask (v2 name)
    fundingRate: str = ""  # current funding rate
    openInterest: str = ""  # open interest, base coin (UNCERTAIN)
    ts: str | int = ""  # ms


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_LIQ_ROWS: Final = msgspec.json.Decoder(list[_LiqRow])
_TICKER_ROWS: Final = msgspec.json.Decoder(list[_TickerRow])


def _ns(ms: str | int | None) -> int:
    """Return a ``ts`` (ms, string or number) as ns: int64 bound, ``int()`` syntax."""
    if ms is None or ms == "":
        msg = "missing ts"
        raise ValueError(msg)
    return ts_ns(int(ms), limit_ms=INT64_MS)


def _envelope(frame: Frame) -> _Envelope | None:
    if frame in ("pong", b"pong"):
        return None
    try:
        env = _ENVELOPE.decode(frame)
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, frame) from None
    if env.event == "error":
        raise parse_error(NAME, "error %s %s" % (env.code, env.msg), frame)
    return None if env.event else env


class LiquidationParser:
    """Parses ``liquidation`` pushes; see ``liquidation_update.json``.

    Example: ``{"data":[{"symbol":"BTCUSDT","side":"buy","price":"89000",
    "amount":"37.722858","ts":"1736371332162"}],"arg":{"instType":"usdt-futures",
    "topic":"liquidation"},"action":"update","ts":1736371332162}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per row; ``pong``, acks and other topics give []."""
        env = _envelope(frame)
        if env is None or env.arg.topic != "liquidation":
            return []
        try:
            return [self._event(row, ts_recv_ns) for row in _LIQ_ROWS.decode(env.data)]
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None

    def _event(self, row: _LiqRow, ts_recv_ns: int) -> Liquidation:
        inst = known(self.book, row.symbol)
        price = positive(row.price, "price")
        notional = positive(row.amount, "amount")
        qty = notional / price
        checked_notional(qty, notional)
        return Liquidation(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=row.symbol,
            asset=inst.asset,
            asset_class=inst.asset_class,
            position_side="long" if row.side == "buy" else "short",
            price=price,
            qty=qty,
            notional_usd=notional,
            ts_event_ns=_ns(row.ts),
            ts_recv_ns=ts_recv_ns,
            completeness="sampled",
            event_id="%s:%s:%s:%s:%s:%s"
            % (NAME, row.symbol, row.ts, row.side, row.amount, row.price),
        )


class PriceParser:
    """Parses ``ticker`` pushes into `Tick` events (composed fixture ``ticker_snapshot.json``)."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` per known symbol; ``pong``, acks and other topics give []."""
        env = _envelope(frame)
        if env is None or env.arg.topic != "ticker":
            return []
        try:
            return [
                tick
                for row in _TICKER_ROWS.decode(env.data)
                if (tick := self._tick(row, env, ts_recv_ns)) is not None
            ]
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None

    def _tick(self, row: _TickerRow, env: _Envelope, ts_recv_ns: int) -> Tick | None:
        inst = self.book.get(row.symbol)
        if inst is None:
            return None
        price = positive(row.markPrice or row.lastPrice or row.lastPr, "price")
        bid = optional(row.bid1Price or row.bidPr, "bid", signed=True)
        ask = optional(row.ask1Price or row.askPr, "ask", signed=True)
        oi = optional(row.openInterest, "open interest", signed=True)
        return Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=row.symbol,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            bid=bid if bid is not None and bid > 0 else None,
            ask=ask if ask is not None and ask > 0 else None,
            open_interest_usd=None if oi is None or inst.inverse else abs(oi) * price,
            funding_rate=optional(row.fundingRate, "funding rate", signed=True),
            ts_event_ns=_ns(row.ts or env.ts),
            ts_recv_ns=ts_recv_ns,
        )


class _Product(msgspec.Struct, frozen=True):
    symbol: str  # "BTCUSDT", "BTCPERP", "BTCUSD"
    baseCoin: str  # "BTC"
    quoteCoin: str  # "USDT", "USDC", "USD"


class _Products(msgspec.Struct, frozen=True):
    code: str = ""  # "00000" on success
    data: list[_Product] = []


def _instrument(
    symbol: str, base: str, quote: str, classes: Mapping[str, AssetClass]
) -> Instrument:
    return Instrument(
        NAME,
        symbol,
        perp_symbol(base, quote),
        base,
        classify(base, classes),
        quote,
        inverse=quote == "USD",
        category=INST_TYPE_OF_QUOTE[quote],
    )


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the perpetuals of one ``/api/v3/market/instruments`` response.

    Dated futures (``BTCUSD_251226``) are left out; the ``instType`` is derived from the
    quote coin (USDT → usdt-futures, USD → coin-futures, USDC → usdc-futures).

    Raises:
        ParseError: on a malformed response.
    """
    try:
        products = msgspec.json.decode(payload, type=_Products)
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, payload) from None
    return [
        _instrument(p.symbol, p.baseCoin, p.quoteCoin, classes)
        for p in products.data
        if p.quoteCoin in INST_TYPE_OF_QUOTE and p.baseCoin and "_" not in p.symbol
    ]


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive an instrument from a name: ``XAUUSDT``, ``BTCUSD`` (coin-M), ``BTCPERP`` (USDC)."""
    if venue_symbol.endswith("PERP") and venue_symbol[:-4].isalnum():
        return _instrument(venue_symbol, venue_symbol[:-4], "USDC", classes)
    try:
        base, quote = split_concatenated(venue_symbol)
    except ValueError:
        return None
    if quote not in INST_TYPE_OF_QUOTE or not base.isalnum():
        return None
    return _instrument(venue_symbol, base, quote, classes)


def liquidation_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return the instTypes to watch (all three when the catalogue is empty)."""
    wanted = {i.category for i in instruments} or set(INST_TYPES)
    return [t for t in INST_TYPES if t in wanted]


def price_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``<instType>:<symbol>`` per instrument."""
    return ["%s:%s" % (i.category, i.venue_symbol) for i in instruments]


def subscribe_liquidations(chunk: Sequence[str]) -> list[str]:
    """Return the subscribe request for the liquidation topic of each instType."""
    args = [{"instType": t, "topic": "liquidation"} for t in chunk]
    return [msgspec.json.encode({"op": "subscribe", "args": args}).decode()]


def subscribe_prices(chunk: Sequence[str]) -> list[str]:
    """Return the subscribe request for the tickers of ``<instType>:<symbol>`` topics."""
    args = []
    for topic in chunk:
        inst_type, _, symbol = topic.partition(":")
        args.append({"instType": inst_type, "topic": "ticker", "symbol": symbol})
    return [msgspec.json.encode({"op": "subscribe", "args": args}).decode()]


_HEARTBEAT: Final = Heartbeat(interval_s=PING_INTERVAL_S, payload=PING_PAYLOAD)

SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="sampled",
            topics=liquidation_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe_liquidations,
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
            subscribe=subscribe_prices,
            make_parser=PriceParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            heartbeat=_HEARTBEAT,
            stale_after_s=60.0,
        ),
    ),
    instruments_urls=tuple(REST_URL % c for c in ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="liquidations aggregated (per-symbol largest or periodic batches, UNCERTAIN)",
)
