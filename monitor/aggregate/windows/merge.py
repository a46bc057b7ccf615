"""Stage 2 of the distributed aggregate: every partition's closed buckets → one `Engine`.

`SummaryMerger` reads the `WindowSummary` records of ``liqmon.windows.v1`` (one partition,
so one reader sees every asset whatever the split of the input partitions). It keeps each
source's ``closed_before``: rows of a second the source already published (a new owner
re-reads from the oldest open second, see `monitor.aggregate.windows.partial`) are dropped, so
nothing is counted twice. Seconds close on the minimum watermark over the sources that
hold data; the engine then steps over exactly the seconds the one-process engine would, and
gives the same alerts.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

import polars as pl

from monitor.aggregate.engine import Engine
from monitor.events import NS, Alert, WindowSummary

_LIQ_SCHEMA: Final = {
    "sec": pl.Int64,
    "instrument": pl.Utf8,
    "asset": pl.Utf8,
    "class": pl.Utf8,
    "long_usd": pl.Float64,
    "short_usd": pl.Float64,
    "long_n": pl.Float64,
    "short_n": pl.Float64,
    "sampled": pl.Boolean,
}
_PX_SCHEMA: Final = {
    "sec": pl.Int64,
    "inst": pl.Utf8,
    "asset": pl.Utf8,
    "class": pl.Utf8,
    "high": pl.Float64,
    "low": pl.Float64,
    "last": pl.Float64,
    "oi": pl.Float64,
    "spread_n": pl.Int64,
    "spread_log": pl.Float64,
    "spread_last": pl.Float64,
}


class SummaryMerger:
    """Merges summaries from many sources into one engine; closes on their min watermark.

    Args:
        engine: the engine that owns windows, detectors and alerts (all four levels).
        expected: sources that must report before anything closes (empty: any that did).
    """

    def __init__(self, engine: Engine, expected: Collection[str] = ()) -> None:
        self.engine = engine
        self.expected = frozenset(expected)
        self.closed_before: dict[str, int] = {}
        self.idle: set[str] = set()
        self.late_rows = 0
        self.max_recv_ns = 0
        self.first_sec: int | None = None  # the oldest second any row carried

    def take(self, summaries: list[WindowSummary]) -> None:
        """Add the rows of `summaries` that no earlier summary of their source covered."""
        liq: list[pl.DataFrame] = []
        px: list[pl.DataFrame] = []
        max_ts = -1
        for s in summaries:
            if s.margins:
                self.engine.take_margins(s.margins)
            if s.idle:
                if s.source not in self.expected:  # a margin partition caught up: no hold
                    self.closed_before.pop(s.source, None)
                if s.source not in self.closed_before:
                    self.idle.add(s.source)
                continue
            self.idle.discard(s.source)
            done = self.closed_before.get(s.source)
            floor = max(done if done is not None else -(2**62), self._closed())
            liq.append(_liq_frame(s).filter(pl.col("sec") >= floor))
            px.append(_px_frame(s).filter(pl.col("sec") >= floor))
            for sec in (*s.liq_sec[:1], *s.px_sec[:1]):  # both columns are in second order
                self.first_sec = sec if self.first_sec is None else min(self.first_sec, sec)
            self.late_rows += len(s.liq_sec) + len(s.px_sec) - len(liq[-1]) - len(px[-1])
            self.closed_before[s.source] = (
                s.closed_before if done is None else max(done, s.closed_before)
            )
            max_ts = max(max_ts, s.max_ts_ns)
            self.max_recv_ns = max(self.max_recv_ns, s.max_recv_ns)
        if max_ts >= 0:
            self.engine.add_buckets(
                pl.concat(liq) if liq else pl.DataFrame(schema=_LIQ_SCHEMA),
                pl.concat(px) if px else pl.DataFrame(schema=_PX_SCHEMA),
                max_ts,
            )

    def snapshot(self) -> dict[str, Any]:
        """Return what the merger knows of its sources (the Kafka cross stage's state file)."""
        return {
            "closed_before": dict(self.closed_before),
            "idle": sorted(self.idle),
            "late_rows": self.late_rows,
            "max_recv_ns": self.max_recv_ns,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Replace that knowledge with `state` (an empty one: a clean start)."""
        closed = {str(k): int(v) for k, v in state.get("closed_before", {}).items()}
        idle = {str(s) for s in state.get("idle", [])}
        late, recv = int(state.get("late_rows", 0)), int(state.get("max_recv_ns", 0))
        self.closed_before, self.idle, self.late_rows, self.max_recv_ns = closed, idle, late, recv

    def wake(self, sources: Collection[str]) -> None:
        """Stop counting `sources` idle: their partitions got records since they were marked.

        Until their first summaries come, nothing closes (`watermark`): a member that reads
        another partition must not close past rows these will bring.
        """
        self.idle -= set(sources)

    def _closed(self) -> int:
        closed = self.engine.closed_sec
        return closed if closed is not None else -(2**62)

    def watermark(self) -> int | None:
        """Return the first second some source still holds open, or None (nothing to close)."""
        if not self.closed_before or not self.expected <= self.idle | self.closed_before.keys():
            return None
        return min(self.closed_before.values())

    def advance(self, max_s: int | None = None) -> list[Alert]:
        """Close what every source finished (`watermark`); `max_s`: see `close_step`.

        Event time only: live, the wall clock comes in through the sources (stage 1 closes
        a caught-up partition by it), never past a source that still has a backlog.
        """
        first_open = self.watermark()
        return [] if first_open is None else self.close_step(first_open, max_s)

    def close_step(self, first_open: int, max_s: int | None = None) -> list[Alert]:
        """Close the seconds below `first_open`; return the alert transitions.

        With `max_s`, close at most that many seconds past the last closed one (or the oldest
        row): for a caller that yields between calls (the Kafka cross stage).
        """
        known = [s for s in (self.engine.closed_sec, self.first_sec) if s is not None]
        if max_s is not None and known:  # a hold far in the past closed nothing: from the rows
            first_open = min(first_open, max(known) + max_s)
        return self.engine.close_until(first_open)

    def end_of_data(self) -> int | None:
        """Return the second after the newest event (what `flush` closes up to), or None."""
        newest = self.engine.max_ts_ns
        return None if newest is None else newest // NS + 1

    def flush(self) -> list[Alert]:
        """Close everything up to the newest event (the end of a replay)."""
        return self.engine.flush()


def _liq_frame(s: WindowSummary) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sec": s.liq_sec,
            "instrument": s.liq_inst,
            "asset": s.liq_asset,
            "class": s.liq_class,
            "long_usd": s.long_usd,
            "short_usd": s.short_usd,
            "long_n": s.long_n,
            "short_n": s.short_n,
            "sampled": s.liq_sampled or [False] * len(s.liq_sec),  # version 1: not known
        },
        schema=_LIQ_SCHEMA,
    )


def _px_frame(s: WindowSummary) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sec": s.px_sec,
            "inst": s.px_inst,
            "asset": s.px_asset,
            "class": s.px_class,
            "high": s.high,
            "low": s.low,
            "last": s.last,
            "oi": s.oi or [None] * len(s.px_sec),  # older producers send no open interest
            "spread_n": s.spread_n or [0] * len(s.px_sec),  # version 1: no spreads
            "spread_log": s.spread_log or [0.0] * len(s.px_sec),
            "spread_last": s.spread_last or [None] * len(s.px_sec),
        },
        schema=_PX_SCHEMA,
    )
