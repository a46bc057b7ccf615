"""Tardis.dev liquidation rows rebuilt as each venue's own liquidation frame.

A Tardis ``liquidations`` row keeps the venue's amount unit (base coins, contracts or USD,
as the venue streamed it) and normalizes the side (``buy``: a SHORT position was
liquidated; ``sell``: a LONG one). Rather than repeat every venue's contract arithmetic
here, each row becomes the frame the venue would have pushed, and liqmon's own adapter for
that venue parses it: contract sizes, inverse contracts and event ids are then exactly
what the live path produces. Called once per CSV row by `monitor.io.tardis`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import msgspec


@dataclass(frozen=True, slots=True)
class Row:
    """One Tardis ``liquidations`` row, already type-checked.

    Attributes:
        symbol: the venue's symbol (``BTCUSDT``, ``BTC-USDT-SWAP``, ``XBTUSD``).
        ts_ms: the venue's event time, epoch milliseconds.
        row_id: the venue's id of the liquidation, or "" when it gives none.
        short_liquidated: True for Tardis side ``buy`` (a short position was closed).
        price: the liquidation (or bankruptcy) price, as written in the CSV.
        amount: the size in the venue's own unit, as written in the CSV.
    """

    symbol: str
    ts_ms: int
    row_id: str
    short_liquidated: bool
    price: str
    amount: str


def _binance(row: Row) -> bytes:
    """A ``forceOrder`` payload: ORDER side ``BUY`` closes a short."""
    order = {
        "s": row.symbol,
        "S": "BUY" if row.short_liquidated else "SELL",
        "o": "LIMIT",
        "f": "IOC",
        "q": row.amount,
        "p": row.price,
        "ap": row.price,
        "X": "FILLED",
        "l": row.amount,
        "z": row.amount,
        "T": row.ts_ms,
    }
    return msgspec.json.encode({"e": "forceOrder", "E": row.ts_ms, "o": order})


def _bybit(row: Row) -> bytes:
    """An ``allLiquidation`` push: POSITION side ``Buy`` means a long was liquidated."""
    item = {
        "T": row.ts_ms,
        "s": row.symbol,
        "S": "Sell" if row.short_liquidated else "Buy",
        "v": row.amount,
        "p": row.price,
    }
    return msgspec.json.encode(
        {
            "topic": "allLiquidation." + row.symbol,
            "type": "snapshot",
            "ts": row.ts_ms,
            "data": [item],
        }
    )


def _okx(row: Row) -> bytes:
    """A ``liquidation-orders`` push: ORDER side ``buy`` closes a short; ``sz`` in contracts."""
    detail = {
        "bkLoss": "0",
        "bkPx": row.price,
        "posSide": "short" if row.short_liquidated else "long",
        "side": "buy" if row.short_liquidated else "sell",
        "sz": row.amount,
        "ts": str(row.ts_ms),
    }
    inst_type = "SWAP" if row.symbol.endswith("-SWAP") else "FUTURES"
    data = {"details": [detail], "instId": row.symbol, "instType": inst_type}
    return msgspec.json.encode(
        {"arg": {"channel": "liquidation-orders", "instType": inst_type}, "data": [data]}
    )


def _bitmex(row: Row) -> bytes:
    """A ``liquidation`` insert: ORDER side ``Buy`` closes a short; no venue time (recv used)."""
    item = {
        "orderID": row.row_id or "tardis-%d-%s" % (row.ts_ms, row.amount),
        "symbol": row.symbol,
        "side": "Buy" if row.short_liquidated else "Sell",
        "price": float(row.price),
        "leavesQty": float(row.amount),
    }
    return msgspec.json.encode({"table": "liquidation", "action": "insert", "data": [item]})


def _deribit(row: Row) -> bytes:
    """A ``trades`` notification of a taker liquidation (``T``: the taker side was forced)."""
    trade = {
        "trade_id": row.row_id or "tardis-%d" % row.ts_ms,
        "timestamp": row.ts_ms,
        "price": float(row.price),
        "instrument_name": row.symbol,
        "direction": "buy" if row.short_liquidated else "sell",
        "amount": float(row.amount),
        "liquidation": "T",
    }
    params = {"channel": "trades.%s.100ms" % row.symbol, "data": [trade]}
    return msgspec.json.encode({"jsonrpc": "2.0", "method": "subscription", "params": params})


FrameBuilder = Callable[[Row], bytes]

BUILDERS: Final[dict[str, tuple[str, FrameBuilder]]] = {
    "binance-futures": ("binance_usdm", _binance),
    "binance-delivery": ("binance_coinm", _binance),
    "bybit": ("bybit", _bybit),
    "okex-swap": ("okx", _okx),
    "okex-futures": ("okx", _okx),
    "bitmex": ("bitmex", _bitmex),
    "deribit": ("deribit", _deribit),
}
"""Tardis exchange id → (liqmon venue id, frame builder)."""
