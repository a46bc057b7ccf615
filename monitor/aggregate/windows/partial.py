"""Stage 1 of the distributed aggregate: one input partition → closed 1-second buckets.

Each Kafka input partition (``liqmon.liquidations.v1`` / ``liqmon.ticks.v1``) gets a
`PartitionBuckets`. It judges lateness per event exactly like `monitor.aggregate.engine`
(against the newest event before it, in partition order; a late event counts in the first
open second unless it is older than the allowed lateness), folds the events into
instrument-level buckets, and when the partition's watermark (newest event − grace) passes a
second, hands that second's buckets out as a `WindowSummary` for the cross-asset stage,
which runs the windows and detectors (`monitor.aggregate.windows.merge`).

Recovery: `safe_offset` is the offset of the first record of the oldest open second, so a
new owner that resumes there re-reads every record of every unpublished second. Records of
seconds already published come back too; the merge stage drops them (it keeps each
source's ``closed_before``), so nothing is counted twice.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

import msgspec
import numpy as np

from monitor.aggregate.windows.lateness import judge
from monitor.aggregate.windows.spreads import log_spread, spread_bps
from monitor.events import NS, SUMMARY_VERSION, AssetClass, Liquidation, Tick, WindowSummary

_MIN_I64: Final = -(2**63)


class PartitionBuckets:
    """Open 1-second buckets of one partition, closed on the partition's own watermark.

    Args:
        source: ``"<topic>:<partition>"``, the summary's source id.
        grace_ns: a second closes once an event this much newer than its end was seen (ns).
        lateness_ns: a late event whose second is below that of newest − this is dropped,
            not folded into the first open second (nanoseconds).
    """

    def __init__(self, source: str, grace_ns: int, lateness_ns: int) -> None:
        self.source = source
        self.grace_ns = grace_ns
        self.lateness_ns = lateness_ns
        self.max_ts_ns: int | None = None
        self.closed_before: int | None = None  # every second below is published
        self.next_offset = 0  # the offset after the last record taken
        self.late = 0
        self.max_recv_ns = 0
        self._liq: dict[int, dict[str, list[float]]] = {}
        self._px: dict[int, dict[str, list[float]]] = {}
        self._oi: dict[int, dict[str, float]] = {}  # second → instrument → last OI, USD
        self._info: dict[str, tuple[str, AssetClass]] = {}
        self._sampled: dict[str, bool] = {}  # instrument → its first liquidation was sampled
        self._spread: dict[int, dict[str, list[float]]] = {}  # sec → inst → n, Σ log, last
        self._first_offset: dict[int, int] = {}

    def add(
        self, events: Sequence[Liquidation | Tick], offsets: Sequence[int]
    ) -> list[tuple[str, bool]]:
        """Fold `events` (partition order, with their record offsets) in.

        Returns (venue, dropped) per late event: as in the engine, a late event counts in
        the first open second unless its second is below that of the newest event before it
        minus the allowed lateness; then it is dropped.
        """
        ts = np.fromiter((e.ts_event_ns for e in events), np.int64, len(events))
        j = judge(ts, self.max_ts_ns, self.closed_before, self.grace_ns, self.lateness_ns)
        if events:
            self.max_ts_ns = j.newest_ns
        seconds = np.where(j.late, j.first_open, ts // NS).tolist()
        for event, offset, sec, dropped in zip(
            events, offsets, seconds, j.dropped.tolist(), strict=True
        ):
            if not dropped:
                self._take(event, sec, offset)
        late = [(events[i].exchange, bool(j.dropped[i])) for i in np.flatnonzero(j.late).tolist()]
        if events:
            self.next_offset = offsets[-1] + 1
        self.late += len(late)
        return late

    def _take(self, event: Liquidation | Tick, sec: int, offset: int) -> None:
        inst = "%s:%s" % (event.exchange, event.symbol)
        if inst not in self._info:
            self._info[inst] = (event.asset, event.asset_class)
        if sec not in self._first_offset:
            self._first_offset[sec] = offset
        self.max_recv_ns = max(self.max_recv_ns, event.ts_recv_ns)
        if isinstance(event, Liquidation):
            if inst not in self._sampled:  # as the engine learns it: from the first one
                self._sampled[inst] = event.completeness == "sampled"
            row = self._liq.setdefault(sec, {}).get(inst)
            if row is None:
                row = self._liq[sec][inst] = [0.0, 0.0, 0.0, 0.0]
            if event.position_side == "long":
                row[0] += event.notional_usd
                row[2] += 1.0
            else:
                row[1] += event.notional_usd
                row[3] += 1.0
            return
        self._take_tick(event, sec, inst)

    def _take_tick(self, tick: Tick, sec: int, inst: str) -> None:
        price = tick.price
        bps = spread_bps(tick.bid, tick.ask)
        if bps is not None:  # the quotes the liquidity-stress detector takes
            spread = self._spread.setdefault(sec, {}).get(inst)
            if spread is None:
                self._spread[sec][inst] = [1.0, log_spread(bps), bps]
            else:
                spread[0] += 1.0
                spread[1] += log_spread(bps)
                spread[2] = bps
        if tick.open_interest_usd is not None:
            self._oi.setdefault(sec, {})[inst] = tick.open_interest_usd
        px = self._px.setdefault(sec, {}).get(inst)
        if px is None:
            self._px[sec][inst] = [price, price, price]
        else:
            px[0] = max(px[0], price)
            px[1] = min(px[1], price)
            px[2] = price

    def first_open(self, now_ns: int | None = None) -> int | None:
        """Return the first second the watermark keeps open (`now_ns`: live clock, or None)."""
        if self.max_ts_ns is None:
            return None if now_ns is None else (now_ns - self.grace_ns) // NS
        first = (self.max_ts_ns - self.grace_ns) // NS
        if now_ns is not None:
            first = max(first, (now_ns - self.grace_ns) // NS)
        return first

    def close(self, first_open: int | None) -> WindowSummary | None:
        """Publish every second below `first_open`; None when the watermark did not move."""
        if first_open is None or (
            self.closed_before is not None and first_open <= self.closed_before
        ):
            return None
        summary = self._summary(first_open)
        self.closed_before = first_open
        return summary

    def flush(self) -> WindowSummary | None:
        """Close every second up to the newest event (the end of a replay)."""
        if self.max_ts_ns is None:
            return None
        return self.close(self.max_ts_ns // NS + 1)

    def safe_offset(self) -> int:
        """Return the offset to commit: the first record of the oldest open second."""
        return min(self._first_offset.values(), default=self.next_offset)

    def _summary(self, first_open: int) -> WindowSummary:
        liq_cols: list[list[float]] = [[], [], [], []]
        liq_sec: list[int] = []
        liq_inst: list[str] = []
        for sec in sorted(s for s in self._liq if s < first_open):
            for inst, row in sorted(self._liq.pop(sec).items()):
                liq_sec.append(sec)
                liq_inst.append(inst)
                for col, value in zip(liq_cols, row, strict=True):
                    col.append(value)
        px_cols: list[list[float]] = [[], [], []]
        px_oi: list[float | None] = []
        spread_n: list[int] = []
        spread_log: list[float] = []
        spread_last: list[float | None] = []
        px_sec: list[int] = []
        px_inst: list[str] = []
        for sec in sorted(s for s in self._px if s < first_open):
            oi = self._oi.pop(sec, {})
            spreads = self._spread.pop(sec, {})
            for inst, row in sorted(self._px.pop(sec).items()):
                px_sec.append(sec)
                px_inst.append(inst)
                for col, value in zip(px_cols, row, strict=True):
                    col.append(value)
                px_oi.append(oi.get(inst))
                n, log_sum, last = spreads.get(inst, (0.0, 0.0, None))
                spread_n.append(int(n))
                spread_log.append(log_sum)
                spread_last.append(last)
        for sec in [s for s in self._first_offset if s < first_open]:
            del self._first_offset[sec]
        info = self._info
        return WindowSummary(
            source=self.source,
            closed_before=first_open,
            max_ts_ns=self.max_ts_ns if self.max_ts_ns is not None else -1,
            liq_sec=liq_sec,
            liq_inst=liq_inst,
            liq_asset=[info[i][0] for i in liq_inst],
            liq_class=[info[i][1] for i in liq_inst],
            long_usd=liq_cols[0],
            short_usd=liq_cols[1],
            long_n=liq_cols[2],
            short_n=liq_cols[3],
            px_sec=px_sec,
            px_inst=px_inst,
            px_asset=[info[i][0] for i in px_inst],
            px_class=[info[i][1] for i in px_inst],
            high=px_cols[0],
            low=px_cols[1],
            last=px_cols[2],
            oi=px_oi,
            max_recv_ns=self.max_recv_ns,
            version=SUMMARY_VERSION,
            liq_sampled=[self._sampled.get(i, False) for i in liq_inst],
            spread_n=spread_n,
            spread_log=spread_log,
            spread_last=spread_last,
        )


_LIQ_COLUMNS: Final = (
    "liq_sec", "liq_inst", "liq_asset", "liq_class", "long_usd", "short_usd", "long_n", "short_n",
    "liq_sampled",
)  # fmt: skip
_PX_COLUMNS: Final = (
    "px_sec", "px_inst", "px_asset", "px_class", "high", "low", "last", "oi",
    "spread_n", "spread_log", "spread_last",
)  # fmt: skip


def split_summary(summary: WindowSummary, max_rows: int) -> list[WindowSummary]:
    """Return `summary` as consecutive summaries of at most about `max_rows` rows each.

    Called by stage 1 before it publishes, so no record exceeds the producer's request size
    (a fast replay closes many seconds of many instruments at once). The parts are cut at
    second boundaries; each part's ``closed_before`` is the first second of the next part
    and the last keeps the original's, so the merge stage, which drops a source's rows below
    its ``closed_before``, takes every row of every part in order. A second with more than
    `max_rows` rows stays whole.
    """
    if len(summary.liq_sec) + len(summary.px_sec) <= max_rows:
        return [summary]
    rows: dict[int, int] = {}
    for sec in (*summary.liq_sec, *summary.px_sec):
        rows[sec] = rows.get(sec, 0) + 1
    cuts: list[int] = []
    filled = 0
    for sec in sorted(rows):
        if filled and filled + rows[sec] > max_rows:
            cuts.append(sec)
            filled = 0
        filled += rows[sec]
    parts: list[WindowSummary] = []
    liq_at = px_at = 0  # both columns are in second order (`PartitionBuckets.close`)
    for high in (*cuts, summary.closed_before):
        liq_to, px_to = bisect_left(summary.liq_sec, high), bisect_left(summary.px_sec, high)
        columns: dict[str, object] = {n: getattr(summary, n)[liq_at:liq_to] for n in _LIQ_COLUMNS}
        columns |= {n: getattr(summary, n)[px_at:px_to] for n in _PX_COLUMNS}
        parts.append(msgspec.structs.replace(summary, closed_before=high, **columns))
        liq_at, px_at = liq_to, px_to
    return parts
