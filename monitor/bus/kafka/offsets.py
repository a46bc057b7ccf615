"""Where a consumer-group member stands in its partitions: positions, ends, seeks.

`PartitionOffsets` is the base of `monitor.bus.kafka.consumer.KafkaSubscription`: the
queries and seeks on the consumer the member holds, apart from consuming and committing.
Before the consumer started every query answers "nothing known" and every seek is a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from monitor.bus.kafka.common import seek_to_start


class PartitionOffsets:
    """Offset queries and seeks on `_consumer` (None until started), bounded by `_timeout_s`."""

    _consumer: Any
    _timeout_s: float

    def assignment(self) -> set[TopicPartition]:
        """Return the partitions this member holds now."""
        return set() if self._consumer is None else set(self._consumer.assignment())

    async def position(self, tp: TopicPartition) -> int | None:
        """Return the offset of the next record this member reads from `tp`.

        None when it is not known within ``request_timeout_ms`` or `tp` is no longer
        assigned (a rebalance meanwhile). Right after an assignment it is the committed
        offset (or where the reset policy put it).
        """
        if self._consumer is None:
            return None
        try:
            async with asyncio.timeout(self._timeout_s):
                return int(await self._consumer.position(tp))
        except (KafkaError, IllegalStateError, TimeoutError):
            return None

    def highwater(self, tp: TopicPartition) -> int | None:
        """Return the partition's end offset from the last fetch (None before any fetch)."""
        if self._consumer is None:
            return None
        hw: int | None = self._consumer.highwater(tp)
        return hw

    async def kept(self, tp: TopicPartition) -> tuple[int, int]:
        """Return the first offset the broker keeps of `tp` and its end (next) offset."""
        if self._consumer is None:
            return 0, 0
        first = (await self._consumer.beginning_offsets([tp]))[tp]
        return first, (await self._consumer.end_offsets([tp]))[tp]

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int] | None:
        """Return the end (next) offset of `tps`, assigned or not; None when not known in time.

        Bounded by ``request_timeout_ms``.
        """
        if self._consumer is None or not tps:
            return None
        try:
            async with asyncio.timeout(self._timeout_s):
                ends = await self._consumer.end_offsets(list(tps))
        except (KafkaError, TimeoutError):
            return None
        return {tp: int(end) for tp, end in ends.items()}

    async def seek_to_start(self, partitions: Iterable[TopicPartition]) -> None:
        """Re-read `partitions` from the first record the broker keeps (`seek_to_start`)."""
        if self._consumer is not None:
            await seek_to_start(self._consumer, partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read `tp` on from `offset` (an explicit seek: it voids a reset in flight)."""
        if self._consumer is not None:
            self._consumer.seek(tp, offset)
