"""The consumer-group rebalance listener of a `KafkaSubscription` (called by aiokafka)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

if TYPE_CHECKING:
    from monitor.bus.kafka.consumer import KafkaSubscription


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Commits processed offsets before a revoke; rewinds newly owned partitions."""

    def __init__(self, sub: KafkaSubscription) -> None:
        self._sub = sub

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Called by aiokafka before a rebalance takes `revoked` away (inside getmany).

        The group waits for this member to rejoin, so the next owner starts only after
        what this process produced is acknowledged and the offsets are committed. Meanwhile
        the subscription's ``revoking`` is set: a stage whose batch may run long (the cross
        stage closing days of a rebuild) ends it early, since past the rebalance timeout
        the group would drop this member and its batch would go on unowned.
        """
        self._sub.revoking = True
        try:
            await self._sub.before_revoke()
        finally:
            self._sub.revoking = False
        await self._sub.commit_partitions(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Called by aiokafka once the group has given this member `assigned`."""
        await self._sub.on_assigned(set(assigned))
