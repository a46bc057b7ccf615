"""Stage 1's margin forwarding: ``liqmon.margin.v1`` records → summaries for the cross stage.

Margin changes are rare and arm an asset only from their notice time, but the cross stage
must have a change before it evaluates that time, or a replay over Kafka raises the
margin-hike cascade later than ``liqmon replay`` does (seen: five event-hours later on
`feb-2026`, whose notices were read after the cascades' ticks). So each margin partition
is a source of the merge (`monitor.aggregate.windows.merge`) that holds its watermark while stage
1 has not read the partition to its end: at the notice second of the last change read (at
the start of time before any), and is idle (holds nothing) once caught up. Live, the
cross stage's clock closes anyway; the hold matters for replays and backlogs.

Called by `BucketStage` with each batch it takes and each time it publishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from aiokafka import TopicPartition

from monitor.events import NS, MarginChange, WindowSummary

_START: Final = -(2**62)  # a hold before any change was read: nothing closes


class MarginForward:
    """Margin changes read and not yet published, and what each partition holds."""

    def __init__(self) -> None:
        self._pending: dict[TopicPartition, list[MarginChange]] = {}
        self._next: dict[TopicPartition, int] = {}  # next offset, to mark once published
        self._last_sec: dict[TopicPartition, int] = {}  # notice second of the newest read
        self._told: dict[TopicPartition, int | None] = {}  # hold last published (None: idle)

    def take(self, tp: TopicPartition, changes: list[MarginChange], next_offset: int) -> None:
        """Keep the changes of one fetched batch of `tp` (its records up to `next_offset`)."""
        self._pending.setdefault(tp, []).extend(changes)
        self._next[tp] = next_offset
        for change in changes:
            sec = change.notice_ts_ns // NS
            self._last_sec[tp] = max(self._last_sec.get(tp, _START), sec)

    def summaries(
        self, partitions: Iterable[TopicPartition], behind: Callable[[TopicPartition], bool]
    ) -> list[WindowSummary]:
        """Return a summary per margin partition whose changes or hold are news.

        `behind(tp)` says whether stage 1 has not read `tp` to its end (or does not know).
        """
        out: list[WindowSummary] = []
        for tp in partitions:
            changes = self._pending.pop(tp, [])
            hold = self._last_sec.get(tp, _START) if behind(tp) else None
            if not changes and tp in self._told and self._told[tp] == hold:
                continue
            self._told[tp] = hold
            out.append(
                WindowSummary(
                    source="%s:%d" % (tp.topic, tp.partition),
                    closed_before=hold if hold is not None else 0,
                    max_ts_ns=-1,
                    idle=hold is None,
                    margins=changes,
                )
            )
        return out

    def marks(self) -> dict[TopicPartition, int]:
        """Return the offsets safe to commit once the summaries are acknowledged; forget them."""
        marks, self._next = self._next, {}
        return marks

    def reset(self) -> None:
        """Forget everything (a rebalance: every partition is re-read from its commit)."""
        for known in (self._pending, self._next, self._last_sec, self._told):
            known.clear()
