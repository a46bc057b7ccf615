"""HTX (ex-Huobi) USDT-margined perpetual swaps.

Streams: liquidations on the **notification** host ``wss://api.hbdm.com/linear-swap-notification``,
topic ``public.*.liquidation_orders`` (every contract in one subscription: HTX allows at most
40 subscriptions a second and a ``*`` topic also covers new listings); prices on the market host
``wss://api.hbdm.com/linear-swap-ws``, topic ``market.$contract_code.detail`` (last price,
best bid and ask; HTX says bid/ask lag by about 500 ms). Mark price (``mark_price`` klines)
is not used: ``detail`` is the one topic that gives price, bid and ask together.
Docs: https://www.htx.com/en-us/opend/newApiPages/?id=8cb7e25d-77b5-11ed-9966-0242ac110003
Side convention: ``direction`` is the side of the forced ORDER: ``sell`` (with ``offset``
``close``) means a LONG position was liquidated, ``buy`` a short one (tardis passes it through
as the order side; HTX's own wording "long or short" is misleading).
Units: ``volume`` in contracts, ``amount`` in base units (used when present, else volume ×
``contract_size``), ``trade_turnover`` in USDT (equals amount × price); ``price`` is the
bankruptcy price in USDT; ``created_at`` ms. notional_usd = qty × price (USDT taken as USD).
Quirks: every frame is GZIP-compressed binary (`decode`); the server pings and drops the
connection after 5 unanswered pings: ``{"ping": n}`` → ``{"pong": n}`` on the market host,
``{"op":"ping","ts":"t"}`` → ``{"op":"pong","ts":"t"}`` on the notification host (`reply`).
Fixtures: ``tests/fixtures/payloads/htx/`` (JSON text; the tests gzip it).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from monitor.errors import ParseError
from monitor.events import AssetClass, Event, Liquidation, Tick
from monitor.sources._checks import (
    INT64_MS,
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
    excerpt,
)
from monitor.symbols import classify, perp_symbol

NAME: Final = "htx"
NOTIFY_URL: Final = "wss://api.hbdm.com/linear-swap-notification"
MARKET_URL: Final = "wss://api.hbdm.com/linear-swap-ws"
INSTRUMENTS_URL: Final = "https://api.hbdm.com/linear-swap-api/v1/swap_contract_info"
LIQUIDATION_TOPIC: Final = "public.*.liquidation_orders"
MAX_SUBS_PER_CONN: Final = 40  # HTX: at most 40 subscriptions a second
GZIP_MAGIC: Final = b"\x1f\x8b"


class _LiqRow(msgspec.Struct, frozen=True):
    """One row of ``public.*.liquidation_orders``; wire field names."""

    contract_code: str  # venue symbol, "BTC-USDT"
    direction: str  # forced order side: "buy" | "sell"
    volume: float  # contracts
    price: float  # bankruptcy price, USDT
    created_at: int  # ms
    amount: float | None = None  # base units
    offset: str = ""  # "close" for liquidations


class _LiqMsg(msgspec.Struct, frozen=True):
    op: str = ""  # "notify" | "sub" | "ping"
    topic: str = ""
    err_code: int = msgspec.field(default=0, name="err-code")  # non-zero: a failed request
    data: list[_LiqRow] = []


class _Detail(msgspec.Struct, frozen=True):
    close: float  # last price
    asks: list[float] | None = None  # [price, contracts]
    bids: list[float] | None = None  # [price, contracts]


class _DetailMsg(msgspec.Struct, frozen=True):
    ch: str = ""  # "market.BTC-USDT.detail"
    status: str = ""  # "ok" | "error" on sub responses
    ts: int = 0  # ms
    tick: _Detail | None = None


class _Contract(msgspec.Struct, frozen=True):
    symbol: str  # base asset, "BTC"
    contract_code: str  # "BTC-USDT"
    contract_size: float  # base units per contract
    business_type: str = "swap"  # "swap" | "futures"


class _Contracts(msgspec.Struct, frozen=True):
    data: list[_Contract] = []


_LIQ: Final = msgspec.json.Decoder(_LiqMsg)
_DETAIL: Final = msgspec.json.Decoder(_DetailMsg)
_CONTRACTS: Final = msgspec.json.Decoder(_Contracts)


class GzipFrameError(ParseError, ValueError):
    """A corrupt GZIP frame: a `ParseError`, and a ValueError for the runner's decode guard."""


def decode(data: bytes) -> str:
    """Return the text of one GZIP frame.

    Raises:
        GzipFrameError: corrupt GZIP or non-UTF-8 text (a `ParseError`).
    """
    try:
        return gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise GzipFrameError("%s: bad gzip frame: %s: %s" % (NAME, exc, excerpt(data))) from None


def _text(frame: Frame) -> Frame:
    return decode(frame) if isinstance(frame, bytes) and frame[:2] == GZIP_MAGIC else frame


def reply(text: str) -> str | None:
    """Return the pong a server ping demands, or None for any other frame."""
    if '"ping"' not in text:
        return None
    try:
        obj = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if "ping" in obj:
        return msgspec.json.encode({"pong": obj["ping"]}).decode()
    if obj.get("op") == "ping":
        return msgspec.json.encode({"op": "pong", "ts": obj.get("ts")}).decode()
    return None


class LiquidationParser:
    """Parses ``public.*.liquidation_orders`` frames (fixture ``liquidation_orders_notify``)."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Liquidation` per row; sub acks and pings give []."""
        text = _text(frame)
        try:
            msg = _LIQ.decode(text)
            if msg.err_code != 0:
                raise parse_error(NAME, "venue error", text)
            if msg.op != "notify":
                return []
            out: list[Event] = []
            for row in msg.data:
                inst = known(self.book, row.contract_code, "contract")
                price = positive(row.price, "price")
                base = row.amount if row.amount is not None else row.volume * inst.contract_size
                qty = positive(base, "qty")
                ts_ms = row.created_at
                out.append(
                    Liquidation(
                        exchange=NAME,
                        symbol=inst.symbol,
                        venue_symbol=row.contract_code,
                        asset=inst.asset,
                        asset_class=inst.asset_class,
                        position_side=liquidated(row.direction, "sell", "buy", "direction"),
                        price=price,
                        qty=qty,
                        notional_usd=positive(qty * price, "notional"),
                        ts_event_ns=ts_ns(ts_ms, limit_ms=INT64_MS),
                        ts_recv_ns=ts_recv_ns,
                        event_id="%s:%s:%d:%s:%r:%r"
                        % (NAME, row.contract_code, ts_ms, row.direction, row.volume, price),
                    )
                )
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, text) from None
        return out


class DetailParser:
    """Parses ``market.$contract_code.detail`` frames (fixture ``detail_update``)."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` (last, bid, ask); sub acks and pings give []."""
        text = _text(frame)
        try:
            msg = _DETAIL.decode(text)
            if msg.status == "error":
                raise parse_error(NAME, "venue error", text)
            parts = msg.ch.split(".")
            if msg.tick is None or len(parts) != 3 or parts[2] != "detail":
                return []
            code = parts[1]
            inst = known(self.book, code, "contract")
            tick = msg.tick
            bid = positive(tick.bids[0], "bid") if tick.bids else None
            ask = positive(tick.asks[0], "ask") if tick.asks else None
            return [
                Tick(
                    exchange=NAME,
                    symbol=inst.symbol,
                    venue_symbol=code,
                    asset=inst.asset,
                    asset_class=inst.asset_class,
                    price=positive(tick.close, "close"),
                    bid=bid,
                    ask=ask,
                    ts_event_ns=ts_ns(msg.ts, limit_ms=INT64_MS),
                    ts_recv_ns=ts_recv_ns,
                )
            ]
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, text) from None


def _make(code: str, asset: str, size: float, classes: Mapping[str, AssetClass]) -> Instrument:
    quote = code.rsplit("-", 1)[-1]
    return Instrument(
        NAME, code, perp_symbol(asset, quote), asset, classify(asset, classes), quote,
        contract_size=size, category="swap",
    )  # fmt: skip


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the perpetual swaps of a ``swap_contract_info`` response (dated futures skipped).

    Raises:
        ParseError: malformed response.
    """
    try:
        contracts = _CONTRACTS.decode(payload).data
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, "instruments: %s" % exc, payload) from None
    return [
        _make(c.contract_code, c.symbol.upper(), c.contract_size, classes)
        for c in contracts
        if c.business_type == "swap" and c.contract_code.count("-") == 1 and c.contract_size > 0
    ]


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive ``BTC-USDT`` → BTC-USDT-PERP (contract size 1.0); None for dated futures."""
    parts = venue_symbol.upper().split("-")
    if len(parts) != 2 or not all(parts):
        return None
    return _make(venue_symbol.upper(), parts[0], 1.0, classes)


def _subscribe_notify(chunk: Sequence[str]) -> list[str]:
    return [msgspec.json.encode({"op": "sub", "cid": "liqmon", "topic": t}).decode() for t in chunk]


def _subscribe_market(chunk: Sequence[str]) -> list[str]:
    return [msgspec.json.encode({"sub": t, "id": t}).decode() for t in chunk]


SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="liquidations",
            kind="liquidations",
            completeness="exact",
            topics=lambda instruments: [LIQUIDATION_TOPIC],
            url=lambda chunk: NOTIFY_URL,
            subscribe=_subscribe_notify,
            make_parser=LiquidationParser,
            max_topics_per_conn=MAX_SUBS_PER_CONN,
            reply=reply,
            decode=decode,
            stale_after_s=30.0,  # the server pings every ~5 s
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=lambda instruments: ["market.%s.detail" % i.venue_symbol for i in instruments],
            url=lambda chunk: MARKET_URL,
            subscribe=_subscribe_market,
            make_parser=DetailParser,
            max_topics_per_conn=MAX_SUBS_PER_CONN,
            reply=reply,
            decode=decode,
            stale_after_s=30.0,
        ),
    ),
    instruments_urls=(INSTRUMENTS_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="no mark price on the chosen price topic (last + bid/ask from `detail`); open "
    "interest only by REST (`monitor.sources.htx_oi`)",
)
