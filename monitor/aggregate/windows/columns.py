"""Micro-batch → numpy columns → 1-second liquidation buckets: the engine's hot path.

The engine calls `LiquidationCoder.columns` once per micro-batch and `bucket` on the
result; `PendingBuckets` holds the buckets until their second closes. Per event the only
Python work is reading five fields through C-level ``map``/``attrgetter`` calls and one
dict look-up of the event's (exchange, symbol, asset, asset class); everything after that
is numpy over whole columns. The polars functions in `monitor.aggregate.windows.buckets` compute
the same buckets from a frame and serve as the reference in tests.

Sums are taken in event order within a batch (``np.bincount``), and partial sums of the
same second × scope from several batches are added in batch order.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.aggregate.windows.scopes import MARKET, ScopeIndex
from monitor.events import NS, AssetClass, Liquidation, Tick

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Key = tuple[str, str, str, AssetClass]

_KEY: Final = attrgetter("exchange", "symbol", "asset", "asset_class")
_TS: Final = attrgetter("ts_event_ns")
_USD: Final = attrgetter("notional_usd")
_SIDE: Final = attrgetter("position_side")
_DENSE_CELLS_PER_ROW: Final = 4  # dense bincount while cells ≤ this × rows, else np.unique


class Buckets(NamedTuple):
    """Liquidation buckets: one row per second × scope id, sorted by (sec, sid), unique.

    ``vals`` has one column per measure, in `monitor.aggregate.windows.sliding.MEASURES` order
    (long USD, short USD, long count, short count).
    """

    sec: I64
    sid: I64
    vals: F64

    @staticmethod
    def empty() -> Buckets:
        """Return buckets with no rows."""
        return Buckets(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)))

    def __len__(self) -> int:
        return int(self.sec.size)

    @staticmethod
    def from_frame(frame: pl.DataFrame) -> Buckets:
        """Return the rows of a ``LIQ_SCHEMA`` frame sorted by (sec, sid)."""
        return Buckets(
            frame.get_column("sec").to_numpy().astype(np.int64),
            frame.get_column("sid").to_numpy().astype(np.int64),
            frame.select("long_usd", "short_usd", "long_n", "short_n").to_numpy(),
        )


class Columns(NamedTuple):
    """One micro-batch of liquidations as columns, one row per event."""

    sec: I64  # event time, epoch s
    code: I64  # `LiquidationCoder` code of the event's instrument
    is_long: Mask
    usd: F64


def event_times(events: Sequence[Liquidation | Tick]) -> I64:
    """Return ``ts_event_ns`` of every event (epoch ns)."""
    return np.fromiter(map(_TS, events), dtype=np.int64, count=len(events))


class LiquidationCoder:
    """Dense codes for the (exchange, symbol, asset, asset class) keys seen in liquidations.

    Each code knows its scope ids at the instrument, asset and class level (`sids`) and its
    venue (`venue`, an index into `venues`). Scope ids are created in the order the polars
    reference creates them: the market first, then per level the batch's keys in first-seen
    order.
    """

    def __init__(self, scopes: ScopeIndex) -> None:
        self.scopes = scopes
        self.keys: list[Key] = []
        self.sids: I64 = np.zeros((0, 3), np.int64)
        self.venue: I64 = np.zeros(0, np.int64)
        self.venues: list[str] = []
        self._codes: dict[Key, int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def columns(self, events: Sequence[Liquidation], ts_ns: I64 | None = None) -> Columns:
        """Return the columns of a non-empty micro-batch, coding new keys on the way.

        `ts_ns` is `event_times` of `events` when the caller has it already.
        """
        n = len(events)
        keys = list(map(_KEY, events))
        code = np.fromiter(map(self._codes.get, keys, repeat(-1)), dtype=np.int64, count=n)
        if code.min() < 0:
            self._add(dict.fromkeys(keys))
            code = np.fromiter(map(self._codes.__getitem__, keys), dtype=np.int64, count=n)
        return Columns(
            sec=(event_times(events) if ts_ns is None else ts_ns) // NS,
            code=code,
            is_long=np.fromiter(map("long".__eq__, map(_SIDE, events)), dtype=np.bool_, count=n),
            usd=np.fromiter(map(_USD, events), dtype=np.float64, count=n),
        )

    def _add(self, batch_keys: dict[Key, None]) -> None:
        scopes = self.scopes
        scopes.id_of("market", MARKET)
        inst = [scopes.id_of("instrument", "%s:%s" % (k[0], k[1])) for k in batch_keys]
        asset = [scopes.id_of("asset", k[2]) for k in batch_keys]
        cls = [scopes.id_of("class", k[3]) for k in batch_keys]
        rows = []
        venues = []
        for key, i, a, c in zip(batch_keys, inst, asset, cls, strict=True):
            if key not in self._codes:
                self._codes[key] = len(self.keys)
                self.keys.append(key)
                rows.append((i, a, c))
                if key[0] not in self.venues:
                    self.venues.append(key[0])
                venues.append(self.venues.index(key[0]))
        self.sids = np.concatenate([self.sids, np.array(rows, np.int64).reshape(-1, 3)])
        self.venue = np.concatenate([self.venue, np.array(venues, np.int64)])

    def present(self, cols: Columns) -> list[Key]:
        """Return the keys that occur in `cols`, in code order."""
        seen = np.flatnonzero(np.bincount(cols.code, minlength=len(self.keys)))
        return [self.keys[c] for c in seen.tolist()]

    def totals_by_exchange(self, cols: Columns) -> list[tuple[str, bool, int, float]]:
        """Return ``(exchange, is_long, count, usd)`` per venue and side present in `cols`."""
        group = self.venue[cols.code] * 2 + cols.is_long
        size = 2 * len(self.venues)
        count = np.bincount(group, minlength=size)
        usd = np.bincount(group, weights=cols.usd, minlength=size)
        return [
            (self.venues[g // 2], bool(g % 2), int(count[g]), float(usd[g]))
            for g in np.flatnonzero(count).tolist()
        ]


def bucket(cols: Columns, coder: LiquidationCoder) -> Buckets:
    """Return per-second, per-scope sums of a batch, every event counted at all four levels."""
    scopes = coder.scopes
    market = scopes.id_of("market", MARKET)
    width = len(scopes)
    first = int(cols.sec.min())
    base = (cols.sec - first) * width
    level_sids = coder.sids[cols.code]
    cell = np.concatenate(
        [base + level_sids[:, 0], base + level_sids[:, 1], base + level_sids[:, 2], base + market]
    )
    n_cells = (int(cols.sec.max()) - first + 1) * width
    if n_cells <= _DENSE_CELLS_PER_ROW * cell.size:
        used: I64 | None = None
        index = cell
    else:
        used, index = np.unique(cell, return_inverse=True)
        n_cells = int(used.size)
    side = index * 2 + np.tile(cols.is_long, 4)
    count = np.bincount(side, minlength=2 * n_cells).reshape(-1, 2)
    usd = np.bincount(side, weights=np.tile(cols.usd, 4), minlength=2 * n_cells).reshape(-1, 2)
    rows = np.flatnonzero(count[:, 0] + count[:, 1]) if used is None else np.arange(n_cells)
    cells = rows if used is None else used
    vals = np.empty((rows.size, 4))
    vals[:, 0] = usd[rows, 1]
    vals[:, 1] = usd[rows, 0]
    vals[:, 2] = count[rows, 1]
    vals[:, 3] = count[rows, 0]
    return Buckets(first + cells // width, cells % width, vals)


def merge(parts: Sequence[Buckets]) -> Buckets:
    """Return one row per second × scope from buckets of several batches, summed in order."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Buckets.empty()
    if len(parts) == 1:
        return parts[0]
    sec = np.concatenate([p.sec for p in parts])
    sid = np.concatenate([p.sid for p in parts])
    vals = np.concatenate([p.vals for p in parts])
    first = int(sec.min())
    key = (sec - first) * (int(sid.max()) + 1) + sid
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    return Buckets(sec[order][starts], sid[order][starts], np.add.reduceat(vals[order], starts))


class PendingBuckets:
    """Buckets of seconds that are not closed yet, as the batches delivered them."""

    def __init__(self) -> None:
        self._parts: list[Buckets] = []

    def add(self, part: Buckets) -> None:
        """Keep `part` (sorted by second) until `take` asks for its seconds."""
        if len(part):
            self._parts.append(part)

    def take(self, first_open: int) -> Buckets:
        """Remove and return, merged, every bucket of a second below `first_open`."""
        ready: list[Buckets] = []
        keep: list[Buckets] = []
        for part in self._parts:
            cut = int(np.searchsorted(part.sec, first_open))
            if cut:
                ready.append(Buckets(part.sec[:cut], part.sid[:cut], part.vals[:cut]))
            if cut < len(part):
                keep.append(Buckets(part.sec[cut:], part.sid[cut:], part.vals[cut:]))
        self._parts = keep
        return merge(ready)
