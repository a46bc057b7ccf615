"""Sliding liquidation windows over 1-second buckets, kept as running sums.

For every scope id and every window length W (10 s … 1 h) the store keeps the sums of
the four measures over the seconds (s − W, s], where s is the last closed second. Closing a
second adds its buckets once and subtracts the buckets that fall out of each window, so the
cost per second is proportional to the buckets that enter and leave, never to the window
length. The bucket log holds the longest window of buckets (and at most 64 s more), as
int32 ids and float32 values: it is most of the aggregate's memory (3,000 symbols at 10k
events/s fill about 3,000 rows a second: 430 MB per hour of log at 40 bytes a row, 215 MB
at the 20 of int32 and float32). Each bucket is rounded to float32 once, before it is
added, so the running sums (float64) subtract exactly what they added; a bucket's USD
keeps 7 significant digits.

Numpy does the per-second arithmetic (≈0.2 ms against ≈5 ms for the same in polars,
measured for the foundation issue); `monitor.aggregate.windows.columns` makes the buckets of each
micro-batch.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.aggregate.windows.scopes import ScopeIndex, grown

MEASURES: Final[tuple[str, ...]] = ("long_usd", "short_usd", "long_n", "short_n")
LONG_USD, SHORT_USD, LONG_N, SHORT_N = range(4)
_EPS: Final = 1e-6  # running sums drift by float rounding; below this is zero

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


class LiquidationWindows:
    """Running window sums per scope id; `close_second` is called once per closed second."""

    def __init__(self, windows_s: tuple[int, ...]) -> None:
        self.windows_s = tuple(sorted(windows_s))
        self.sums: F64 = np.zeros((0, len(self.windows_s), 4))
        # The bucket log: one (second, ids, values) chunk per closed second with data, oldest
        # first; _head[w] is the first chunk still inside window w.
        self._log: list[tuple[int, I32, F32]] = []
        self._head = [0] * len(self.windows_s)
        self.last_second: int | None = None

    def window_index(self, window_s: int) -> int:
        """Return the position of `window_s` in `windows_s`."""
        return self.windows_s.index(window_s)

    def close_second(self, second: int, sids: I64, values: F64) -> None:
        """Fold the buckets of `second` (ids and ``values[:, MEASURES]``) into the windows.

        Seconds must arrive in increasing order; `sids` must be unique within a second.
        """
        if sids.size:
            self.sums = grown(self.sums, int(sids.max()) + 1)
        self._expire(second)
        if sids.size:
            ids, vals = sids.astype(np.int32), values.astype(np.float32)
            self.sums[ids] += vals[:, None, :]
            self._log.append((second, ids, vals))
        self.last_second = second

    def _expire(self, second: int) -> None:
        log = self._log
        for w, length in enumerate(self.windows_s):
            head = self._head[w]
            horizon = second - length
            while head < len(log) and log[head][0] <= horizon:
                _, sids, values = log[head]
                self.sums[sids, w] -= values
                head += 1
            self._head[w] = head
        drop = min(self._head)
        if drop >= 64:  # the log holds the longest window and at most 64 s more
            del log[:drop]
            self._head = [h - drop for h in self._head]

    def totals(self, window: int) -> F64:
        """Return long + short USD per scope id over window index `window`."""
        total = self.sums[:, window, LONG_USD] + self.sums[:, window, SHORT_USD]
        total[total < _EPS] = 0.0
        return total

    def buffered_buckets(self) -> int:
        """Return how many bucket rows the log holds (memory grows with this)."""
        return sum(chunk[1].size for chunk in self._log[min(self._head, default=0) :])

    def frame(self, scopes: ScopeIndex) -> pl.DataFrame:
        """Return the current windows as a frame: one row per scope × window × side.

        Columns: ``level, scope, window_s, position_side, notional_usd, count``. Rows with
        nothing in the window are left out. Called for the API and tests, not per event.
        """
        n = len(scopes)
        rows: dict[str, list[object]] = {k: [] for k in ("level", "scope", "window_s")}
        cols: dict[str, list[float]] = {
            "long_usd": [],
            "short_usd": [],
            "long_n": [],
            "short_n": [],
        }
        sums = self.sums[:n]
        for sid in range(min(n, len(sums))):
            for w, length in enumerate(self.windows_s):
                if sums[sid, w, LONG_N] + sums[sid, w, SHORT_N] < 0.5:
                    continue
                rows["level"].append(scopes.levels[sid])
                rows["scope"].append(scopes.keys[sid])
                rows["window_s"].append(length)
                for m, name in enumerate(MEASURES):
                    cols[name].append(float(sums[sid, w, m]))
        wide = pl.DataFrame(
            {**rows, **cols},
            schema={
                "level": pl.Utf8,
                "scope": pl.Utf8,
                "window_s": pl.Int64,
                "long_usd": pl.Float64,
                "short_usd": pl.Float64,
                "long_n": pl.Float64,
                "short_n": pl.Float64,
            },
        )
        return _by_side(wide)


def _by_side(wide: pl.DataFrame) -> pl.DataFrame:
    keys = ["level", "scope", "window_s"]
    long = wide.select(*keys, position_side=pl.lit("long"), notional_usd="long_usd", n="long_n")
    short = wide.select(*keys, position_side=pl.lit("short"), notional_usd="short_usd", n="short_n")
    return (
        pl.concat([long, short])
        .filter(pl.col("n") >= 0.5)
        .with_columns(count=pl.col("n").round().cast(pl.Int64))
        .drop("n")
        .sort(*keys, "position_side")
    )
