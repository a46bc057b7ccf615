"""Micro-batch → 1-second buckets, in polars.

A batch of contract events becomes two small frames: liquidation buckets (one row per
second × scope, the four measures long/short USD and long/short count, with every event
counted at all four scope levels) and price buckets (one row per second × instrument with
high, low and last price). Only buckets are kept afterwards, never raw rows.

The engine makes liquidation buckets with the numpy path in `monitor.aggregate.windows.columns`;
`liquidation_frame`, `liquidation_buckets` and `totals_by_exchange` are its polars
reference, which the tests compare it with. Price buckets and the roll-up of the
partitioned stage's buckets are made here.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from monitor.aggregate.windows.scopes import MARKET, ScopeIndex
from monitor.events import NS, Liquidation, Tick

LIQ_SCHEMA: Final = {
    "sec": pl.Int64,
    "sid": pl.UInt32,
    "long_usd": pl.Float64,
    "short_usd": pl.Float64,
    "long_n": pl.Float64,
    "short_n": pl.Float64,
}
PRICE_SCHEMA: Final = {
    "sec": pl.Int64,
    "inst": pl.Utf8,
    "high": pl.Float64,
    "low": pl.Float64,
    "last": pl.Float64,
    "oi": pl.Float64,  # open interest, USD: the second's last reading, null when none
}


def liquidation_frame(events: list[Liquidation]) -> pl.DataFrame:
    """Return the columns of `events` the windows and the counters need, one row each."""
    return pl.DataFrame(
        {
            "sec": [e.ts_event_ns // NS for e in events],
            "exchange": [e.exchange for e in events],
            "symbol": [e.symbol for e in events],
            "asset": [e.asset for e in events],
            "class": [e.asset_class for e in events],
            "is_long": [e.position_side == "long" for e in events],
            "usd": [e.notional_usd for e in events],
        },
        schema={
            "sec": pl.Int64,
            "exchange": pl.Utf8,
            "symbol": pl.Utf8,
            "asset": pl.Utf8,
            "class": pl.Utf8,
            "is_long": pl.Boolean,
            "usd": pl.Float64,
        },
    ).with_columns(instrument=pl.concat_str("exchange", "symbol", separator=":"))


def totals_by_exchange(frame: pl.DataFrame) -> list[tuple[str, bool, int, float]]:
    """Return ``(exchange, is_long, count, usd)`` per venue and side of a `liquidation_frame`."""
    grouped = frame.group_by("exchange", "is_long").agg(n=pl.len(), usd=pl.col("usd").sum())
    return [(str(x), bool(lg), int(n), float(u)) for x, lg, n, u in grouped.iter_rows()]


def liquidation_buckets(frame: pl.DataFrame, scopes: ScopeIndex) -> pl.DataFrame:
    """Return per-second, per-scope sums of a `liquidation_frame` (`LIQ_SCHEMA`), by second.

    Each event lands in its instrument, its asset, its asset class and the market.
    """
    if frame.is_empty():
        return pl.DataFrame(schema=LIQ_SCHEMA)
    market_id = scopes.id_of("market", MARKET)
    parts = []
    for level in ("instrument", "asset", "class"):
        mapping = scopes.ids_of(level, frame.get_column(level).unique(maintain_order=True))
        parts.append(
            frame.select(
                "sec",
                "is_long",
                "usd",
                pl.col(level).replace_strict(mapping, return_dtype=pl.UInt32).alias("sid"),
            )
        )
    parts.append(frame.select("sec", "is_long", "usd", pl.lit(market_id, pl.UInt32).alias("sid")))
    return _sum_sides(pl.concat(parts))


def _sum_sides(rows: pl.DataFrame) -> pl.DataFrame:
    long = pl.col("is_long")
    return (
        rows.group_by("sec", "sid")
        .agg(
            long_usd=pl.col("usd").filter(long).sum(),
            short_usd=pl.col("usd").filter(~long).sum(),
            long_n=long.sum().cast(pl.Float64),
            short_n=(~long).sum().cast(pl.Float64),
        )
        .sort("sec", "sid")
    )


def merge_liquidation_buckets(frame: pl.DataFrame) -> pl.DataFrame:
    """Re-sum buckets that came from several batches into one row per second × scope."""
    return (
        frame.group_by("sec", "sid")
        .agg(pl.col("long_usd", "short_usd", "long_n", "short_n").sum())
        .sort("sec", "sid")
    )


def price_buckets(events: list[Tick], seconds: list[int] | None = None) -> pl.DataFrame:
    """Return per-second, per-instrument high, low, last price and OI (see `PRICE_SCHEMA`).

    `seconds` (epoch s) replaces the events' own seconds when given (late ticks).
    """
    if not events:
        return pl.DataFrame(schema=PRICE_SCHEMA)
    frame = pl.DataFrame(
        {
            "sec": [e.ts_event_ns // NS for e in events] if seconds is None else seconds,
            "inst": ["%s:%s" % (e.exchange, e.symbol) for e in events],
            "price": [e.price for e in events],
            "oi": [e.open_interest_usd for e in events],
        },
        schema={"sec": pl.Int64, "inst": pl.Utf8, "price": pl.Float64, "oi": pl.Float64},
    )
    return merge_price_buckets(
        frame.select("sec", "inst", "oi", high="price", low="price", last="price")
    )


def merge_price_buckets(frame: pl.DataFrame) -> pl.DataFrame:
    """Combine price buckets of the same second × instrument, keeping the arrival order."""
    return (
        frame.group_by("sec", "inst", maintain_order=True)
        .agg(
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("last").last(),
            pl.col("oi").drop_nulls().last(),
        )
        .sort("sec", "inst", maintain_order=True)
    )


def rollup_buckets(frame: pl.DataFrame, scopes: ScopeIndex) -> pl.DataFrame:
    """Return `LIQ_SCHEMA` buckets at all four levels from instrument-level buckets.

    `frame` has ``sec, instrument, asset, class`` and the four measures (one row per
    second × instrument, as the partitioned stage publishes them); each row is added to its
    instrument, asset, class and the market.
    """
    if frame.is_empty():
        return pl.DataFrame(schema=LIQ_SCHEMA)
    measures = ["long_usd", "short_usd", "long_n", "short_n"]
    market_id = scopes.id_of("market", MARKET)
    parts = []
    for level in ("instrument", "asset", "class"):
        mapping = scopes.ids_of(level, frame.get_column(level).unique(maintain_order=True))
        sid = pl.col(level).replace_strict(mapping, return_dtype=pl.UInt32).alias("sid")
        parts.append(frame.select("sec", sid, *measures))
    parts.append(frame.select("sec", pl.lit(market_id, pl.UInt32).alias("sid"), *measures))
    return merge_liquidation_buckets(pl.concat(parts))
