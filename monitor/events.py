"""Event contract v1: the four event types every part of liqmon exchanges.

One JSON object per event, tagged by ``type``, identical on Kafka topics, in replay files
and in recordings. Times are integer epoch nanoseconds. Prices, quantities and USD
amounts are floats (decided once, here): aggregation sums notionals, and float64 keeps
15 significant digits, far more than any venue prints. Unknown fields are ignored on
decode; a breaking change bumps the topic suffix (``.v1`` → ``.v2``).
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

Side = Literal["long", "short"]
"""The position that was liquidated (not the venue's order side)."""

AssetClass = Literal["crypto", "metal", "equity", "index", "energy", "fx"]
Completeness = Literal["exact", "sampled"]
MarginBasis = Literal["pct_notional", "usd_per_contract", "maintenance_rate", "max_leverage"]
AlertKind = Literal[
    "cascade",
    "margin_hike_cascade",
    "contagion",
    "liquidity_stress",
    "threshold",
    "data_gap",
    "deleveraging",
]
AlertState = Literal["pending", "firing", "resolved"]
Severity = Literal["warning", "critical"]

NS: Final = 1_000_000_000
"""Nanoseconds per second: every event time in the contract is epoch nanoseconds."""
SIDES: Final[tuple[Side, ...]] = ("long", "short")
ASSET_CLASSES: Final[tuple[AssetClass, ...]] = (
    "crypto",
    "metal",
    "equity",
    "index",
    "energy",
    "fx",
)
ALERT_KINDS: Final[tuple[AlertKind, ...]] = (
    "cascade",
    "margin_hike_cascade",
    "contagion",
    "liquidity_stress",
    "threshold",
    "data_gap",
    "deleveraging",
)
SEVERITIES: Final[tuple[Severity, ...]] = ("warning", "critical")
EXCHANGES: Final[tuple[str, ...]] = (
    "binance_usdm",
    "binance_coinm",
    "bybit",
    "okx",
    "bitmex",
    "deribit",
    "gate",
    "bitget",
    "htx",
    "kraken_futures",
    "dydx",
    "hyperliquid",
)
"""Venue ids, used in events, config, recordings and metric labels."""

EvidenceValue = float | int | str | list[str]


class Liquidation(msgspec.Struct, frozen=True, kw_only=True, tag="liquidation", tag_field="type"):
    """One forced liquidation as a venue reported it, normalized.

    ``notional_usd`` is ``qty × price`` in USD for linear contracts and contracts × contract
    value for inverse ones; the adapter does the venue's arithmetic.
    """

    exchange: str  # venue id, e.g. "binance_usdm"
    symbol: str  # normalized, e.g. "BTC-USDT-PERP", "XAU-USDT-PERP"
    venue_symbol: str  # as the venue spells it, e.g. "BTCUSDT"
    asset: str  # base asset, e.g. "BTC", "XAG", "NVDA"
    asset_class: AssetClass
    position_side: Side
    price: float  # fill or bankruptcy price, quote currency
    qty: float  # base units
    notional_usd: float
    ts_event_ns: int  # venue time
    ts_recv_ns: int  # our socket's receive time
    completeness: Completeness = "exact"
    event_id: str  # deterministic dedup key


class Tick(msgspec.Struct, frozen=True, kw_only=True, tag="tick", tag_field="type"):
    """A price observation: mark price where streamed, else last trade."""

    exchange: str
    symbol: str
    venue_symbol: str
    asset: str
    asset_class: AssetClass
    price: float
    bid: float | None = None
    ask: float | None = None
    open_interest_usd: float | None = None
    funding_rate: float | None = None
    ts_event_ns: int
    ts_recv_ns: int


class MarginChange(
    msgspec.Struct, frozen=True, kw_only=True, tag="margin_change", tag_field="type"
):
    """A change of a margin requirement or of maximum leverage.

    ``tightening`` is D = 1 − old/new for requirements and 1 − new/old for max leverage;
    negative means a loosening (see `tightening_of`).
    """

    venue: str  # "cme", "bybit", "okx", ...
    product: str  # e.g. "SI", "GC", "BTCUSDT"
    asset: str
    asset_class: AssetClass
    basis: MarginBasis
    old: float
    new: float
    tightening: float
    notice_ts_ns: int
    effective_ts_ns: int
    source: str  # URL or free-text provenance
    event_id: str


class Alert(msgspec.Struct, frozen=True, kw_only=True, tag="alert", tag_field="type"):
    """One state transition of an alert.

    ``started_ns`` is when the incident began (its first pending); ``ts_ns`` is the event
    time of this transition. Both are event time, never the machine's clock, so replays
    give identical alerts.
    """

    alert_id: str
    kind: AlertKind
    scope: str  # an asset ("BTC"), an asset class ("metal") or "market"
    state: AlertState
    severity: Severity
    wave: int
    started_ns: int
    ts_ns: int
    summary: str
    evidence: dict[str, EvidenceValue] = msgspec.field(default_factory=dict)


Event = Liquidation | Tick | MarginChange | Alert
"""Any contract event."""


class WindowSummary(
    msgspec.Struct, frozen=True, kw_only=True, tag="window_summary", tag_field="type"
):
    """Closed 1-second buckets of one input partition (``liqmon.windows.v1``, additive to v1).

    Published by the partitioned ``aggregate`` stage for the cross-asset stage. Columns are
    aligned lists: liquidation buckets (``liq_*``: second, ``exchange:symbol``, asset, class,
    long/short USD and counts) and price buckets (``px_*``: second, instrument, asset, class,
    high, low, last, open interest in USD or null). ``margins`` carries the margin changes
    read from a ``liqmon.margin.v1`` partition (such a summary is ``idle``: it holds no
    watermark). Not an `Event`: it never travels on the input topics.

    ``version`` 2 (`SUMMARY_VERSION`) adds what the liquidity-stress and saturation
    detectors take from raw events: ``liq_sampled`` (liquidation rows: the instrument's
    first liquidation was ``sampled``) and, per price row, the quoted spreads of its ticks
    with a sane bid and ask: how many (``spread_n``), the sum of their log spreads
    (``spread_log``, log of bps) and the last spread in bps (``spread_last``, null when
    none). Version 1 summaries carry none of them (empty lists).
    """

    source: str  # "<topic>:<partition>" the buckets came from
    closed_before: int  # epoch second: every earlier second of `source` is final
    max_ts_ns: int  # newest event time seen on `source`; -1 while idle
    idle: bool = False  # caught up with nothing seen yet: does not hold the watermark
    liq_sec: list[int] = msgspec.field(default_factory=list)
    liq_inst: list[str] = msgspec.field(default_factory=list)
    liq_asset: list[str] = msgspec.field(default_factory=list)
    liq_class: list[AssetClass] = msgspec.field(default_factory=list)
    long_usd: list[float] = msgspec.field(default_factory=list)
    short_usd: list[float] = msgspec.field(default_factory=list)
    long_n: list[float] = msgspec.field(default_factory=list)
    short_n: list[float] = msgspec.field(default_factory=list)
    px_sec: list[int] = msgspec.field(default_factory=list)
    px_inst: list[str] = msgspec.field(default_factory=list)
    px_asset: list[str] = msgspec.field(default_factory=list)
    px_class: list[AssetClass] = msgspec.field(default_factory=list)
    high: list[float] = msgspec.field(default_factory=list)
    low: list[float] = msgspec.field(default_factory=list)
    last: list[float] = msgspec.field(default_factory=list)
    oi: list[float | None] = msgspec.field(default_factory=list)  # open interest USD, or null
    max_recv_ns: int = 0  # newest receive time among the events folded in (latency)
    margins: list[MarginChange] = msgspec.field(default_factory=list)  # forwarded as read
    version: int = 1  # 2: the columns below are filled (`SUMMARY_VERSION`)
    liq_sampled: list[bool] = msgspec.field(default_factory=list)
    spread_n: list[int] = msgspec.field(default_factory=list)
    spread_log: list[float] = msgspec.field(default_factory=list)
    spread_last: list[float | None] = msgspec.field(default_factory=list)


SUMMARY_VERSION: Final = 2  # of the `WindowSummary` records stage 1 publishes
TOPIC_LIQUIDATIONS: Final = "liqmon.liquidations.v1"
TOPIC_TICKS: Final = "liqmon.ticks.v1"
TOPIC_MARGIN: Final = "liqmon.margin.v1"
TOPIC_WINDOWS: Final = "liqmon.windows.v1"
TOPIC_ALERTS: Final = "liqmon.alerts.v1"
INPUT_TOPICS: Final[tuple[str, ...]] = (TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_MARGIN)


TOPIC_OF_TYPE: Final[dict[type, str]] = {
    Liquidation: TOPIC_LIQUIDATIONS,
    Tick: TOPIC_TICKS,
    MarginChange: TOPIC_MARGIN,
    Alert: TOPIC_ALERTS,
}


def topic_of(event: Event) -> str:
    """Return the Kafka topic (also the memory-bus topic) an event belongs on."""
    return TOPIC_OF_TYPE[type(event)]


def key_of(event: Event) -> str:
    """Return the partition key: ``symbol`` for market data, ``asset`` for margin changes."""
    if isinstance(event, Liquidation | Tick):
        return event.symbol
    if isinstance(event, MarginChange):
        return event.asset
    return event.scope


def event_time_ns(event: Event) -> int:
    """Return the event time that orders an event in replay (epoch ns)."""
    if isinstance(event, Liquidation | Tick):
        return event.ts_event_ns
    if isinstance(event, MarginChange):
        return event.notice_ts_ns
    return event.ts_ns


def tightening_of(basis: MarginBasis, old: float, new: float) -> float:
    """Return D for a margin change: 1 − old/new (requirements), 1 − new/old (max leverage).

    Raises:
        ValueError: when old or new is not positive.
    """
    if old <= 0 or new <= 0:
        raise ValueError("margin values must be positive, got old=%r new=%r" % (old, new))
    if basis == "max_leverage":
        return 1.0 - new / old
    return 1.0 - old / new
