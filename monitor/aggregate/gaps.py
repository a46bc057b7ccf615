"""``data_gap``: a venue's stream that is silent while a peer venue's same stream flows.

Streams are (venue, ``liquidations`` | ``prices``). Each keeps the event time of its newest
event and its typical inter-arrival time (its mean gap between events, over a history that
halves once it passes ``_HISTORY`` events, so it follows the market's pace). At every
evaluation, in event time, a stream that has delivered ``min_events`` is stale when its
newest event is older than its bound max(``min_stale_s``, k × typical gap); it raises a
``data_gap`` signal on its venue's scope only while another venue's stream of the same kind
delivered within that bound (all silent together: the market is quiet, or liqmon itself is
cut off, which ``LiqmonSourceDown``/``LiqmonSourceStale`` report). The signal stops when the
stream flows again, and the alert resolves after ``detect.lifecycle.resolve_after_s``.
`observe` is called for each micro-batch, `signals` at every evaluation; the state is
`Snapshottable`, so it survives restarts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from monitor.aggregate.detectors import Signal
from monitor.config.gaps import DataGapSettings
from monitor.events import Liquidation, Tick

NS: Final = 1_000_000_000
_HISTORY: Final = 1000  # events: past this the history halves (a decaying mean gap)


@dataclass(slots=True)
class _Stream:
    first_ns: int  # start of the history the mean gap is taken over
    last_ns: int
    events: int  # events in that history
    seen: int  # events ever (for min_events)

    def gap_s(self) -> float:
        """Return the mean time between events, seconds (inf before the second event)."""
        if self.events < 2:
            return float("inf")
        return (self.last_ns - self.first_ns) / NS / (self.events - 1)


class StreamGaps:
    """Newest event and typical gap per (venue, stream); ``data_gap`` signals."""

    def __init__(self, cfg: DataGapSettings) -> None:
        self.cfg = cfg
        self.streams: dict[tuple[str, str], _Stream] = {}
        self._pending: dict[tuple[str, str], list[int]] = {}  # sorted; from _head: not folded
        self._head: dict[tuple[str, str], int] = {}

    def observe(self, exchange: str, stream: str, times_ns: Iterable[int]) -> None:
        """Take event times (epoch ns, any order) of one venue's stream.

        They count from the first evaluation at or after them (`signals` folds them in), so
        a batch's newer events do not hide a gap in the seconds still being judged.
        """
        key = (exchange, stream)
        head = self._head.get(key, 0)
        times = self._pending.get(key, [])[head:]
        times.extend(times_ns)
        times.sort()
        self._pending[key], self._head[key] = times, 0

    def _fold(self, now_ns: int) -> None:
        for key, times in self._pending.items():
            head = self._head[key]
            cut = bisect.bisect_right(times, now_ns, lo=head)
            if cut == head:
                continue
            self._head[key] = cut
            s = self.streams.get(key)
            if s is None:
                s = _Stream(times[head], times[cut - 1], 0, 0)
                self.streams[key] = s
            s.last_ns = max(s.last_ns, times[cut - 1])
            s.events += cut - head
            s.seen += cut - head
            if s.events > _HISTORY:
                s.first_ns = s.last_ns - (s.last_ns - s.first_ns) // 2
                s.events //= 2

    def observe_events(self, events: Iterable[Liquidation | Tick]) -> None:
        """Take one micro-batch's liquidations and ticks (their own event times)."""
        times: dict[tuple[str, str], list[int]] = {}
        for e in events:
            stream = "liquidations" if type(e) is Liquidation else "prices"
            times.setdefault((e.exchange, stream), []).append(e.ts_event_ns)
        for (exchange, stream), ts in times.items():
            self.observe(exchange, stream, ts)

    def observe_buckets(self, liq: pl.DataFrame, px: pl.DataFrame) -> None:
        """Take closed 1-second buckets (the Kafka path): each liquidation at its second."""
        if not liq.is_empty():
            rows = liq.select(
                pl.col("instrument").str.split(":").list.first().alias("ex"),
                pl.col("sec"),
                (pl.col("long_n") + pl.col("short_n")).cast(pl.Int64).alias("n"),
            )
            for ex, sec, n in rows.iter_rows():
                self.observe(ex, "liquidations", [sec * NS] * max(int(n), 1))
        if not px.is_empty():
            exchanges = px.get_column("inst").str.split(":").list.first()
            for ex, sec in zip(exchanges.to_list(), px.get_column("sec").to_list(), strict=True):
                self.observe(ex, "prices", [sec * NS])

    def bound_s(self, s: _Stream) -> float:
        """Return the stream's stale bound, seconds."""
        return max(self.cfg.min_stale_s, self.cfg.interarrival_multiple * s.gap_s())

    def signals(self, now_ns: int) -> list[Signal]:
        """Return one ``data_gap`` signal per silent stream with a flowing peer at `now_ns`."""
        if not self.cfg.enabled:
            return []
        self._fold(now_ns)
        out: list[Signal] = []
        for (exchange, stream), s in sorted(self.streams.items()):
            if s.seen < self.cfg.min_events:
                continue
            bound_ns = int(self.bound_s(s) * NS)
            silent_ns = now_ns - s.last_ns
            if silent_ns <= bound_ns:
                continue
            peers = [
                ex
                for (ex, st), p in sorted(self.streams.items())
                if st == stream and ex != exchange and now_ns - p.last_ns <= bound_ns
            ]
            if peers:
                out.append(_signal(exchange, stream, silent_ns / NS, bound_ns / NS, peers))
        return out

    def snapshot(self) -> dict[str, Any]:
        """Return the streams as plain values (state file)."""
        return {
            "streams": [
                [ex, st, s.first_ns, s.last_ns, s.events, s.seen]
                for (ex, st), s in self.streams.items()
            ],
            "pending": [
                [ex, st, ts[self._head[ex, st] :]] for (ex, st), ts in self._pending.items()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load `snapshot`'s streams (raises before changing anything on a bad one)."""
        streams = {
            (str(ex), str(st)): _Stream(int(a), int(b), int(n), int(seen))
            for ex, st, a, b, n, seen in state["streams"]
        }
        pending = {(str(ex), str(st)): [int(t) for t in ts] for ex, st, ts in state["pending"]}
        self.streams, self._pending = streams, pending
        self._head = dict.fromkeys(pending, 0)


def _signal(
    exchange: str, stream: str, silent_s: float, bound_s: float, peers: list[str]
) -> Signal:
    return Signal(
        kind="data_gap",
        scope=exchange,
        severity="warning",
        score=silent_s / bound_s,
        summary="%s %s silent for %.0f s (bound %.0f s) while %s flow"
        % (exchange, stream, silent_s, bound_s, ", ".join(peers)),
        evidence={
            "exchange": exchange,
            "stream": stream,
            "silent_s": round(silent_s, 1),
            "stale_bound_s": round(bound_s, 1),
            "peers": peers,
        },
        for_s=0.0,
    )
