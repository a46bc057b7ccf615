"""Deribit perpetuals (inverse ``BTC-PERPETUAL``, linear ``BTC_USDC-PERPETUAL``).

Streams: ``wss://www.deribit.com/ws/api/v2`` (JSON-RPC 2.0) — ``trades.{instrument}.100ms``
for liquidations and ``ticker.{instrument}.100ms`` for prices (``raw`` intervals need
authentication). Docs: https://docs.deribit.com/#trades-instrument_name-interval
There is no liquidation channel: a public trade carries ``liquidation`` = ``"T"`` (the
taker was being liquidated), ``"M"`` (the maker was) or ``"MT"`` (both).
Side convention: ``direction`` is the TAKER's order side. ``T``: the forced order is the
taker's, so ``sell`` means a LONG position was liquidated, ``buy`` a SHORT one. ``M``: the
forced order is the maker's, on the opposite side: ``sell`` ⇒ a SHORT was liquidated.
``MT``: both parties were liquidated; we emit TWO events (one long, one short, each for the
full trade amount, event ids ending ``:T`` and ``:M``), because two positions were closed
(tardis emits one, like ``M``; we prefer not to lose one side of the cascade).
Units: ``amount`` is USD for inverse perpetuals (notional_usd = amount, qty = amount /
price) and base coin for linear ones (qty = amount, notional_usd = amount × price);
``timestamp`` ms. Trades without ``liquidation`` give no event (prices come from the
ticker channel). Dated futures are not subscribed.
Heartbeat: the subscribe step first sends ``public/set_heartbeat``; the server then sends
``{"method":"heartbeat","params":{"type":"test_request"}}``, which `reply` answers with
``public/test`` (else the server closes the connection).
Fixtures: ``tests/fixtures/payloads/deribit/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import msgspec

from monitor.events import AssetClass, Event, Liquidation, Side, Tick
from monitor.sources._checks import MAX_NS, parse_error
from monitor.sources.base import (
    Frame,
    Instrument,
    InstrumentBook,
    StreamSpec,
    VenueSpec,
)
from monitor.symbols import classify, perp_symbol

NAME: Final = "deribit"
WS_URL: Final = "wss://www.deribit.com/ws/api/v2"
INSTRUMENTS_URL: Final = (
    "https://www.deribit.com/api/v2/public/get_instruments?currency=any&kind=future"
)
HEARTBEAT_INTERVAL_S: Final = 30  # public/set_heartbeat interval (the venue's minimum is 10)
MAX_TOPICS_PER_CONN: Final = 100  # our choice; Deribit documents no channel limit
TEST_REPLY: Final = '{"jsonrpc":"2.0","id":3,"method":"public/test","params":{}}'
PERP_SUFFIX: Final = "-PERPETUAL"


class _RpcError(msgspec.Struct, frozen=True):
    code: int = 0  # JSON-RPC error code
    message: str = ""  # human text


class _Params(msgspec.Struct, frozen=True):
    channel: str = ""  # "trades.BTC-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.100ms"
    type: str = ""  # heartbeat notifications: "heartbeat" | "test_request"
    data: msgspec.Raw = msgspec.Raw(b"null")  # typed per channel


class _Envelope(msgspec.Struct, frozen=True):
    method: str = ""  # "subscription" (data), "heartbeat"; absent on replies
    params: _Params | None = None  # notification payload
    error: _RpcError | None = None  # set on a rejected request


class _Trade(msgspec.Struct, frozen=True):
    trade_id: str  # unique per instrument
    instrument_name: str  # "BTC-PERPETUAL"
    timestamp: int  # ms
    price: float  # trade price, quote currency
    amount: float  # USD (inverse) or base coin (linear)
    direction: Literal["buy", "sell"]  # TAKER side
    liquidation: Literal["M", "T", "MT"] | None = None  # who was being liquidated


class _Ticker(msgspec.Struct, frozen=True):
    instrument_name: str  # "BTC-PERPETUAL"
    timestamp: int  # ms
    mark_price: float  # mark price
    best_bid_price: float | None = None  # 0 or null on an empty side
    best_ask_price: float | None = None
    funding_8h: float | None = None  # funding over 8 h (comparable to other venues)
    current_funding: float | None = None  # instantaneous funding
    open_interest: float | None = None  # USD (inverse) or base coin (linear)


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_TRADES: Final = msgspec.json.Decoder(list[_Trade])
_TICKER: Final = msgspec.json.Decoder(_Ticker)
_FORCED_ORDER_SIDE: Final[dict[tuple[str, str], Side]] = {
    # (who was liquidated, taker direction) → the liquidated position
    ("T", "sell"): "long",
    ("T", "buy"): "short",
    ("M", "sell"): "short",  # the maker bought: its forced buy closed a short
    ("M", "buy"): "long",
}


def _finite(value: float | None, frame: Frame) -> float | None:
    if value is not None and not math.isfinite(value):
        msg = "non-finite number"
        raise parse_error(NAME, msg, frame)
    return value


def _ns(ms: int, frame: Frame) -> int:
    ns = ms * 1_000_000
    if not 0 < ns < MAX_NS:
        raise parse_error(NAME, "bad timestamp %r" % ms, frame)
    return ns


def _notification(frame: Frame, prefix: str) -> msgspec.Raw | None:
    """Return the ``params.data`` of a ``subscription`` notification on `prefix` channels."""
    try:
        env = _ENVELOPE.decode(frame)
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, frame) from None
    if env.error is not None:
        raise parse_error(NAME, "error %d %s" % (env.error.code, env.error.message), frame)
    if env.method != "subscription" or env.params is None:
        return None
    return env.params.data if env.params.channel.startswith(prefix) else None


class LiquidationParser:
    """Parses ``trades.*`` notifications; see ``trades_liquidation_taker.json``.

    Example: ``{"jsonrpc":"2.0","method":"subscription","params":{"channel":
    "trades.future.BTC.100ms","data":[{"trade_id":"48079270","timestamp":1590484513004,
    "price":8960,"instrument_name":"BTC-PERPETUAL","direction":"buy","amount":20,
    "liquidation":"T"}]}}``.
    """

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return the liquidations among the trades; replies and heartbeats give []."""
        data = _notification(frame, "trades.")
        if data is None:
            return []
        try:
            trades = _TRADES.decode(data)
        except msgspec.DecodeError as exc:
            raise parse_error(NAME, exc, frame) from None
        out: list[Event] = []
        for trade in trades:
            if trade.liquidation is not None:
                out.extend(self._events(trade, frame, ts_recv_ns))
        return out

    def _events(self, trade: _Trade, frame: Frame, ts_recv_ns: int) -> list[Liquidation]:
        inst = self.book.get(trade.instrument_name)
        if inst is None:
            raise parse_error(NAME, "unknown instrument %r" % trade.instrument_name, frame)
        price, amount = trade.price, trade.amount
        if inst.inverse:
            notional, qty = amount, amount / price if price > 0 else math.nan
        else:
            notional, qty = amount * price, amount
        if not all(math.isfinite(v) and v > 0 for v in (price, qty, notional)):
            msg = "price/amount not positive"
            raise parse_error(NAME, msg, frame)
        ts_ns = _ns(trade.timestamp, frame)
        return [
            Liquidation(
                exchange=NAME,
                symbol=inst.symbol,
                venue_symbol=trade.instrument_name,
                asset=inst.asset,
                asset_class=inst.asset_class,
                position_side=_FORCED_ORDER_SIDE[who, trade.direction],
                price=price,
                qty=qty,
                notional_usd=notional,
                ts_event_ns=ts_ns,
                ts_recv_ns=ts_recv_ns,
                event_id="%s:%s:%s:%s" % (NAME, trade.instrument_name, trade.trade_id, who),
            )
            for who in ("T", "M")
            if who in (trade.liquidation or "")
        ]


class PriceParser:
    """Parses ``ticker.*`` notifications into `Tick` events; see ``ticker_perpetual.json``."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick`; replies, heartbeats and unknown instruments give []."""
        data = _notification(frame, "ticker.")
        if data is None:
            return []
        try:
            t = _TICKER.decode(data)
        except msgspec.DecodeError as exc:
            raise parse_error(NAME, exc, frame) from None
        inst = self.book.get(t.instrument_name)
        if inst is None:
            return []
        if not (math.isfinite(t.mark_price) and t.mark_price > 0):
            msg = "mark_price not positive"
            raise parse_error(NAME, msg, frame)
        bid = _finite(t.best_bid_price, frame)
        ask = _finite(t.best_ask_price, frame)
        oi = _finite(t.open_interest, frame)
        if oi is not None and not inst.inverse:
            oi *= t.mark_price
        funding = t.funding_8h if t.funding_8h is not None else t.current_funding
        return [
            Tick(
                exchange=NAME,
                symbol=inst.symbol,
                venue_symbol=t.instrument_name,
                asset=inst.asset,
                asset_class=inst.asset_class,
                price=t.mark_price,
                bid=bid if bid else None,
                ask=ask if ask else None,
                open_interest_usd=None if oi is None or not math.isfinite(oi) else abs(oi),
                funding_rate=_finite(funding, frame),
                ts_event_ns=_ns(t.timestamp, frame),
                ts_recv_ns=ts_recv_ns,
            )
        ]


def reply(frame: str) -> str | None:
    """Answer a server ``test_request`` heartbeat with ``public/test``; else None."""
    if '"test_request"' in frame and '"heartbeat"' in frame:
        return TEST_REPLY
    return None


class _Product(msgspec.Struct, frozen=True):
    instrument_name: str  # "BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC-27DEC24"
    base_currency: str  # "BTC"
    quote_currency: str  # "USD" (inverse), "USDC"
    settlement_period: str = ""  # "perpetual", "month", ...
    instrument_type: str = ""  # "reversed" (inverse) or "linear"
    contract_size: float = 1.0  # USD (inverse) or base coin (linear) per contract


class _Products(msgspec.Struct, frozen=True):
    result: list[_Product]


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the perpetuals of a ``public/get_instruments`` response.

    Raises:
        ParseError: on a malformed response.
    """
    try:
        products = msgspec.json.decode(payload, type=_Products).result
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, exc, payload) from None
    return [
        Instrument(
            NAME,
            p.instrument_name,
            perp_symbol(p.base_currency, p.quote_currency),
            p.base_currency,
            classify(p.base_currency, classes),
            p.quote_currency,
            inverse=p.instrument_type == "reversed",
            contract_size=p.contract_size,
            category="inverse" if p.instrument_type == "reversed" else "linear",
        )
        for p in products
        if p.settlement_period == "perpetual" and p.contract_size > 0
    ]


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive a perpetual from its name: ``ETH-PERPETUAL`` (inverse), ``SOL_USDC-PERPETUAL``."""
    if not venue_symbol.endswith(PERP_SUFFIX):
        return None
    stem = venue_symbol[: -len(PERP_SUFFIX)]
    base, _, quote = stem.partition("_")
    if not base.isalnum() or not (quote == "" or quote.isalnum()):
        return None
    inverse = quote == ""
    quote = quote or "USD"
    return Instrument(
        NAME,
        venue_symbol,
        perp_symbol(base, quote),
        base,
        classify(base, classes),
        quote,
        inverse=inverse,
        category="inverse" if inverse else "linear",
    )


def trade_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``trades.<instrument>.100ms`` per perpetual."""
    return ["trades.%s.100ms" % i.venue_symbol for i in instruments]


def ticker_topics(instruments: Sequence[Instrument]) -> list[str]:
    """Return ``ticker.<instrument>.100ms`` per perpetual."""
    return ["ticker.%s.100ms" % i.venue_symbol for i in instruments]


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return ``public/set_heartbeat`` then ``public/subscribe`` for the channels."""
    heartbeat = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "public/set_heartbeat",
        "params": {"interval": HEARTBEAT_INTERVAL_S},
    }
    sub = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "public/subscribe",
        "params": {"channels": list(chunk)},
    }
    return [msgspec.json.encode(heartbeat).decode(), msgspec.json.encode(sub).decode()]


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=trade_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=LiquidationParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            reply=reply,
            stale_after_s=3.0 * HEARTBEAT_INTERVAL_S,
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=ticker_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=PriceParser,
            max_topics_per_conn=MAX_TOPICS_PER_CONN,
            reply=reply,
            stale_after_s=3.0 * HEARTBEAT_INTERVAL_S,
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="no liquidation channel (liquidation flag on public trades); dated futures not covered",
)
