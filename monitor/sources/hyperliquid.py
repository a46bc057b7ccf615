"""Hyperliquid perpetuals (core dex and HIP-3 builder dexes): prices only.

Hyperliquid has NO public liquidation feed: liquidations appear only in user-scoped
``userEvents``/``userFills`` (one wallet at a time), and public ``trades`` rows carry no
liquidation flag (EXCHANGES §12). This module therefore declares price streams only.
Streams: ``wss://api.hyperliquid.xyz/ws`` —
``{"method":"subscribe","subscription":{"type":"allMids"}}`` (one subscription: the mid
price of every coin of a dex; ``"dex":"xyz"`` for a HIP-3 dex) and ``activeAssetCtx`` per
coin (``markPx``, ``funding``, ``openInterest``). Tick price: ``markPx`` from
``activeAssetCtx``; the mid from ``allMids`` (no bid/ask in either). Neither frame carries a
time, so ticks carry the receive time.
Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket
Side convention: not applicable (no liquidations). A public ``trades`` row's ``side``
(``B``/``A``) is the taker side of a normal fill.
Units: prices in USD (USDC collateral on the core dex; HIP-3 dexes settle in USDC, USDH,
USDE or USDT0 — all treated as USD, quote ``USD``); ``openInterest`` in base units
(× markPx for USD); ``funding`` is a fraction per hour.
HIP-3: coins are named ``dex:TICKER`` (``xyz:GOLD``); `HIP3_ASSETS` maps tickers to the asset
codes of the default ``assets.classes`` table (GOLD→XAU, SILVER→XAG, CL→WTI, SP500→SPX, …);
others keep their ticker (``xyz:TSLA`` → TSLA). Only the dexes in `HIP3_DEXES` get an
``allMids`` subscription, so two dexes listing one underlying (``xyz:GOLD``, ``cash:GOLD``)
never feed one normalized symbol from the mids stream.
Quirks: idle connections are dropped after ~60 s: the client sends ``{"method":"ping"}``
every 50 s (the official SDK's interval); the ``{"channel":"pong"}`` reply gives [].
Instruments come from ``POST https://api.hyperliquid.xyz/info`` with body
``{"type":"meta"}`` (``{"type":"meta","dex":"xyz"}`` for HIP-3) — a POST, not a GET.
Fixtures: ``tests/fixtures/payloads/hyperliquid/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from monitor.events import AssetClass, Event, Tick
from monitor.sources._checks import (
    PARSE_ERRORS,
    finite,
    parse_error,
    positive,
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

NAME: Final = "hyperliquid"
WS_URL: Final = "wss://api.hyperliquid.xyz/ws"
INFO_URL: Final = "https://api.hyperliquid.xyz/info"  # POST {"type":"meta"}
PING: Final = '{"method":"ping"}'
PING_INTERVAL_S: Final = 50.0
QUOTE: Final = "USD"
MAX_SUBS_PER_CONN: Final = 200  # a per-IP cap of ~1000 subscriptions is reported (UNCERTAIN)
HIP3_DEXES: Final[tuple[str, ...]] = ("xyz",)
HIP3_ASSETS: Final[dict[str, str]] = {
    "GOLD": "XAU",
    "SILVER": "XAG",
    "PLATINUM": "XPT",
    "PALLADIUM": "XPD",
    "CL": "WTI",
    "BRENTOIL": "BRENT",
    "SP500": "SPX",
    "USA500": "SPX",
}


class _Mids(msgspec.Struct, frozen=True):
    mids: dict[str, str]  # coin → mid price, USD


class _Ctx(msgspec.Struct, frozen=True):
    """``activeAssetCtx`` context; wire field names."""

    markPx: str  # mark price, USD
    funding: str | None = None  # funding rate per hour, fraction
    openInterest: str | None = None  # base units


class _AssetCtx(msgspec.Struct, frozen=True):
    coin: str  # "BTC", "xyz:GOLD"
    ctx: _Ctx


class _Msg(msgspec.Struct, frozen=True):
    channel: str = ""  # "allMids" | "activeAssetCtx" | "pong" | "subscriptionResponse" | ...
    data: msgspec.Raw = msgspec.Raw(b"null")


class _Asset(msgspec.Struct, frozen=True):
    name: str  # "BTC", "xyz:GOLD"
    isDelisted: bool = False  # delisted coins stay in the universe


class _Meta(msgspec.Struct, frozen=True):
    universe: list[_Asset] = []


_MSG: Final = msgspec.json.Decoder(_Msg)
_MIDS: Final = msgspec.json.Decoder(_Mids)
_CTX: Final = msgspec.json.Decoder(_AssetCtx)
_META: Final = msgspec.json.Decoder(_Meta)
_META_AND_CTXS: Final = msgspec.json.Decoder(tuple[_Meta, msgspec.Raw])


class PriceParser:
    """Parses ``allMids`` and ``activeAssetCtx`` frames (fixtures ``allMids_*``, ``ctx_*``)."""

    def __init__(self, book: InstrumentBook) -> None:
        self.book = book

    def _tick(self, coin: str, price: float, ts_recv_ns: int) -> Tick | None:
        inst = self.book.get(coin)
        if inst is None:
            return None  # spot ("@107", "PURR/USDC") and unusable names: not a perp
        return Tick(
            exchange=NAME,
            symbol=inst.symbol,
            venue_symbol=coin,
            asset=inst.asset,
            asset_class=inst.asset_class,
            price=price,
            ts_event_ns=ts_recv_ns,
            ts_recv_ns=ts_recv_ns,
        )

    def _ctx_tick(self, ctx: _AssetCtx, frame: Frame, ts_recv_ns: int) -> Tick:
        raw = ctx.ctx
        mark = positive(raw.markPx, "markPx")
        tick = self._tick(ctx.coin, mark, ts_recv_ns)
        if tick is None:
            raise parse_error(NAME, "unknown coin %r" % ctx.coin, frame)
        funding = None
        if raw.funding is not None:
            funding = finite(raw.funding, "funding")
        oi_usd = None
        if raw.openInterest is not None:
            oi = finite(raw.openInterest, "openInterest")
            oi_usd = oi * mark if oi > 0 else None
        if oi_usd is not None and not math.isfinite(oi_usd):
            raise parse_error(NAME, "open interest overflows", frame)
        return msgspec.structs.replace(tick, funding_rate=funding, open_interest_usd=oi_usd)

    def parse(self, frame: Frame, ts_recv_ns: int) -> list[Event]:
        """Return one `Tick` per perp coin; pongs and subscription responses give []."""
        try:
            msg = _MSG.decode(frame)
            if msg.channel == "activeAssetCtx":
                return [self._ctx_tick(_CTX.decode(msg.data), frame, ts_recv_ns)]
            if msg.channel == "error":
                raise parse_error(NAME, "venue error", frame)
            if msg.channel != "allMids":
                return []
            mids = _MIDS.decode(msg.data).mids
            out: list[Event] = []
            for coin in sorted(mids):
                tick = self._tick(coin, positive(mids[coin], "mid"), ts_recv_ns)
                if tick is not None:
                    out.append(tick)
        except PARSE_ERRORS as exc:
            raise parse_error(NAME, exc, frame) from None
        return out


def _make(coin: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    dex, sep, ticker = coin.rpartition(":")
    if not ticker or "/" in ticker or ticker.startswith("@") or (sep and not dex):
        return None
    asset = HIP3_ASSETS.get(ticker.upper(), ticker.upper()) if dex else ticker.upper()
    return Instrument(
        NAME, coin, perp_symbol(asset, QUOTE), asset, classify(asset, classes), QUOTE,
        category=dex or "core",
    )  # fmt: skip


def parse_instruments(payload: bytes, classes: Mapping[str, AssetClass]) -> list[Instrument]:
    """Return the live perps of a ``meta`` response (or of ``metaAndAssetCtxs``'s first half).

    The endpoint takes a POST (body ``{"type":"meta"}``); only the body is parsed here.

    Raises:
        ParseError: malformed response.
    """
    try:
        first = payload.lstrip()[:1]
        meta = _META_AND_CTXS.decode(payload)[0] if first == b"[" else _META.decode(payload)
    except msgspec.DecodeError as exc:
        raise parse_error(NAME, "instruments: %s" % exc, payload) from None
    out = []
    for asset in meta.universe:
        inst = None if asset.isDelisted else _make(asset.name, classes)
        if inst is not None:
            out.append(inst)
    return out


def fallback(venue_symbol: str, classes: Mapping[str, AssetClass]) -> Instrument | None:
    """Derive ``BTC`` → BTC-USD-PERP, ``xyz:GOLD`` → XAU-USD-PERP; None for spot names."""
    return _make(venue_symbol, classes)


def _mids_topics(instruments: Sequence[Instrument]) -> list[str]:
    return ["allMids"] + ["allMids:%s" % dex for dex in HIP3_DEXES]


def _ctx_topics(instruments: Sequence[Instrument]) -> list[str]:
    return ["activeAssetCtx:%s" % i.venue_symbol for i in instruments]


def _subscription(topic: str) -> dict[str, str]:
    kind, _, arg = topic.partition(":")
    if kind == "allMids":
        return {"type": "allMids", "dex": arg} if arg else {"type": "allMids"}
    return {"type": kind, "coin": arg}


def subscribe(chunk: Sequence[str]) -> list[str]:
    """Return one subscribe message per topic (``allMids[:dex]``, ``activeAssetCtx:coin``)."""
    return [
        msgspec.json.encode({"method": "subscribe", "subscription": _subscription(t)}).decode()
        for t in chunk
    ]


_HEARTBEAT: Final = Heartbeat(interval_s=PING_INTERVAL_S, payload=PING)

SPEC: Final[VenueSpec] = VenueSpec(
    name=NAME,
    streams=(
        StreamSpec(
            name="mids",
            kind="prices",
            completeness="exact",
            topics=_mids_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=PriceParser,
            heartbeat=_HEARTBEAT,
        ),
        StreamSpec(
            name="prices",
            kind="prices",
            completeness="exact",
            topics=_ctx_topics,
            url=lambda chunk: WS_URL,
            subscribe=subscribe,
            make_parser=PriceParser,
            max_topics_per_conn=MAX_SUBS_PER_CONN,
            heartbeat=_HEARTBEAT,
        ),
    ),
    instruments_urls=(INFO_URL,),
    parse_instruments=parse_instruments,
    fallback=fallback,
    cannot="no public liquidation feed (only per-wallet userEvents/userFills); "
    "instruments need POST /info {'type':'meta'}; no venue time on price frames",
)
