"""Kafka consumer side of the bus: one consumer-group member per subscription.

`KafkaSubscription.batches` pulls micro-batches with ``getmany`` and decodes each record with
`monitor.codec.decode`; a record that does not decode is counted (``on_drop("decode", 1)``)
and skipped. Offsets are committed only by `KafkaSubscription.commit` after a batch is
processed (at-least-once); revoked partitions get their processed offsets committed first.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    ConsumerStoppedError,
    IllegalGenerationError,
    IllegalStateError,
    KafkaError,
)

from monitor.bus.base import DropCallback
from monitor.bus.kafka.common import rewind_to_time
from monitor.bus.kafka.offsets import PartitionOffsets
from monitor.bus.kafka.rebalance import RebalanceListener
from monitor.codec import decode
from monitor.config import KafkaSettings
from monitor.errors import BusError, InputError
from monitor.events import Event

log = logging.getLogger(__name__)

# How old a consumer's topic metadata may get (aiokafka: 5 min, so a group whose topics were
# deleted and created again held no partition that long); a Metadata request each 5 s.
_METADATA_MAX_AGE_MS = 5_000


class KafkaSubscription(PartitionOffsets):
    """One member of consumer group `name`, reading some contract topics.

    Create it through `monitor.bus.kafka.bus.KafkaBus.subscribe`; the consumer connects on
    `start` or on the first iteration of `batches`.

    Attributes:
        name: the consumer group id.
        rebalances: how many assignments this member has received (a change means windows
            may need rebuilding).
        revoking: a rebalance waits for the batch in progress (`RebalanceListener`).
        commit_failures: commits that failed or timed out (retried by the next commit).
    """

    def __init__(
        self,
        topics: Sequence[str],
        name: str,
        settings: KafkaSettings,
        options: dict[str, Any],
        on_drop: DropCallback,
        rewind_on_assign_ns: int | None = None,
        fetch_max_wait_ms: int | None = None,
        flush: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        self.name = name
        self._flush = flush
        self.rebalances = 0
        self.revoking = False
        self._topics = tuple(topics)
        self._settings = settings
        self._options = options
        self._on_drop = on_drop
        self._rewind_ns = rewind_on_assign_ns
        self._timeout_s = settings.request_timeout_ms / 1000
        self._commit_s = min(self._timeout_s, settings.session_timeout_ms / 2000)  # holds a batch
        self.commit_failures = 0
        self._consumer: Any = None
        self._pending: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}  # what this member last committed
        self._owned: set[TopicPartition] = set()
        self._fetch_max_wait_ms = (
            settings.fetch_max_wait_ms if fetch_max_wait_ms is None else fetch_max_wait_ms
        )
        self._closed = False
        self._aborted = False
        self._lost_ns: int | None = None  # wall time the topics were first seen missing
        self._gone: set[str] = set()  # topics seen missing, not assigned since
        self._batch_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect and join the group (bounded by ``request_timeout_ms``); idempotent.

        Raises:
            BusError: the brokers could not be reached in time.
        """
        async with self._start_lock:  # a second caller meanwhile gets the same consumer
            await self._start()

    async def _start(self) -> None:
        if self._consumer is not None:
            return
        if self._closed:
            msg = "subscription %r is closed" % self.name
            raise BusError(msg)
        s = self._settings
        options = self._options
        # A JoinGroup may be held by the coordinator for the whole rebalance timeout.
        options["request_timeout_ms"] = max(s.request_timeout_ms, s.session_timeout_ms + 5_000)
        consumer = AIOKafkaConsumer(
            group_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset=s.auto_offset_reset,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            session_timeout_ms=s.session_timeout_ms,
            rebalance_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(100, s.session_timeout_ms // 5),
            metadata_max_age_ms=_METADATA_MAX_AGE_MS,
            **options,
        )
        self._options = {}  # the revealed SASL password is not kept
        try:
            async with asyncio.timeout(self._timeout_s):
                await consumer.start()
        except (KafkaError, TimeoutError) as exc:
            await consumer.stop()
            msg = "kafka: consumer %r cannot start: %r" % (self.name, exc)
            raise BusError(msg) from None
        consumer.subscribe(topics=list(self._topics), listener=RebalanceListener(self))
        self._consumer = consumer

    async def stop(self) -> None:
        """Leave the group and close the consumer (bounded); ``batches`` then ends."""
        self._closed = True
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await consumer.stop()
        except TimeoutError:
            log.warning("kafka: consumer %r did not stop within %.1f s", self.name, self._timeout_s)

    async def batches(self, max_records: int, timeout_ms: int) -> AsyncIterator[list[Event]]:
        """Yield decoded micro-batches of at most `max_records` events.

        Waits up to `timeout_ms` for records and yields ``[]`` when none came, so the caller
        can advance time while idle. Order is kept within a partition (so within a key), not
        across partitions. Ends when the subscription or its bus is closed.

        Raises:
            BusError: the consumer failed (after aiokafka's own retries).
        """
        async for records in self.records(max_records, timeout_ms):
            yield self._decode(records)

    async def records(
        self, max_records: int, timeout_ms: int
    ) -> AsyncIterator[dict[TopicPartition, list[Any]]]:
        """Yield raw ``getmany`` results (records by partition, with offsets), undecoded.

        For callers that need the partition and offset of each record (the distributed
        aggregate commits its own offsets with `mark`). Same bounds and end as `batches`.

        Raises:
            BusError: the consumer failed (after aiokafka's own retries).
        """
        await self.start()
        bound_s = timeout_ms / 1000 + self._timeout_s
        while not self._closed:
            consumer = self._consumer
            if consumer is None:
                return
            try:
                async with asyncio.timeout(bound_s):
                    records = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
            except ConsumerStoppedError:
                return
            except TimeoutError:
                records = {}
            except KafkaError as exc:
                msg = "kafka: consumer %r failed: %r" % (self.name, exc)
                raise BusError(msg) from exc
            async with self._batch_lock:  # held while the caller processes the batch
                owned = self._consumer.assignment() if self._consumer is not None else set()
                yield {tp: m for tp, m in records.items() if tp in owned}

    def mark(self, tp: TopicPartition, offset: int) -> None:
        """Set the offset `commit` (and a revoke) will commit for `tp`.

        Everything before `offset` must be processed (its results stored).
        """
        self._pending[tp] = offset

    async def abort(self) -> None:
        """Stop without committing anything more (a crash, as far as the group can tell)."""
        self._pending.clear()
        self._aborted = True
        await self.stop()

    def _decode(self, records: dict[TopicPartition, list[Any]]) -> list[Event]:
        batch: list[Event] = []
        bad = 0
        for tp, messages in records.items():
            for message in messages:
                try:
                    batch.append(decode(message.value or b""))
                except InputError as exc:
                    bad += 1
                    log.debug("kafka: skipped %s@%d: %s", tp, message.offset, exc)
            if messages:
                self._pending[tp] = messages[-1].offset + 1
        if bad:
            self._on_drop("decode", bad)
        return batch

    async def commit(self) -> None:
        """Commit the offsets of every batch yielded so far; call after processing them.

        Never raises: what a rebalance took is re-read by its new owner; what failed or timed
        out (broker away) stays pending, so the next commit retries it.
        """
        await self._commit(dict(self._pending))

    async def before_revoke(self) -> None:
        """Wait (at most half a session) until this process's sends are acknowledged.

        Called before partitions are handed on, once the batch the caller is processing is
        done (`records` holds a lock meanwhile): a stage's output (alerts, summaries) still
        in flight would otherwise be missed by the new owner, which reads the topics it
        publishes to when it takes over (and so would publish it a second time).
        """
        async with self._batch_lock:  # the batch being processed ends first
            flushed = self._flush is None or await self._flush(
                self._settings.session_timeout_ms / 2000
            )
        if not flushed:
            log.warning("kafka: group %r hands partitions on with sends pending", self.name)

    async def commit_partitions(self, partitions: set[TopicPartition]) -> None:
        """Commit processed offsets of `partitions` only (before they are revoked).

        A failure is logged: the rebalance goes on, and the new owner re-reads.
        """
        offsets = {tp: off for tp, off in self._pending.items() if tp in partitions}
        self._owned -= partitions
        await self._commit(offsets)
        for tp in offsets:
            self._pending.pop(tp, None)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit `offsets`, less those equal to what this member committed last.

        A stage marks its safe offsets after every batch, but they move only when a second
        closes: skipping the unchanged ones saves the broker ~100 commits a second.
        """
        committed = self._committed
        for tp in [tp for tp, off in offsets.items() if committed.get(tp) == off]:
            del offsets[tp]
            if self._pending.get(tp) == committed[tp]:
                del self._pending[tp]
        if not offsets or self._consumer is None or self._aborted:
            return
        owned = self._consumer.assignment()
        for tp in [tp for tp in offsets if tp not in owned]:
            # a rebalance took it since it was marked: its new owner re-reads from the last
            # committed offset (aiokafka refuses to commit a partition it does not hold)
            del offsets[tp]
            self._pending.pop(tp, None)
        if not offsets:
            return
        try:
            async with asyncio.timeout(self._commit_s):
                await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalGenerationError, IllegalStateError) as exc:
            # the group rebalanced under us: the partitions' new owner re-reads from the last
            # committed offsets (at-least-once), so this member keeps running and rejoins
            log.warning("kafka: commit of group %r skipped, group rebalanced: %r", self.name, exc)
            return
        except (KafkaError, TimeoutError) as exc:  # broker away or slow: stays pending
            self.commit_failures += 1
            log.warning("kafka: commit of group %r failed, the next retries: %r", self.name, exc)
            return
        for tp, off in offsets.items():
            committed[tp] = off
            if self._pending.get(tp) == off:
                del self._pending[tp]

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Record a new assignment; rewind partitions this member did not own before.

        A never committed partition of a topic this member saw deleted is read from its
        start: all of it is new (``latest`` would skip what came before this member got it).
        """
        self.rebalances += 1
        new = assigned - self._owned
        self._owned = set(assigned)
        for tp in new:  # another member may have committed meanwhile
            self._committed.pop(tp, None)
        reborn = [tp for tp in new if tp.topic in self._gone and self._consumer is not None]
        self._gone -= {tp.topic for tp in reborn}
        if reborn:  # bounded: called by aiokafka inside the rebalance
            async with asyncio.timeout(self._timeout_s):
                unread = [tp for tp in reborn if await self._consumer.committed(tp) is None]
                await self.seek_to_start(unread)
        if self._rewind_ns is not None and new:
            await self.seek_to_time(time.time_ns() // 1_000_000 - self._rewind_ns // 1_000_000, new)

    def heard_ns(self, partitions: Iterable[TopicPartition], wall_ns: int) -> int:
        """Return `wall_ns`, held at the broker's last fetch answer for any of `partitions`.

        While this member's topics are missing (deleted), it is held at when they went. Live
        stages close seconds by this clock: records may still come while none answers.
        """
        self._lost_ns = (self._lost_ns or wall_ns) if self.missing_topics() else None
        owned = self._consumer.assignment() if self._consumer is not None else set()
        polls = [self._consumer.last_poll_timestamp(tp) for tp in owned.intersection(partitions)]
        held = [int(ms) * 1_000_000 for ms in polls if ms is not None]
        return min([wall_ns, *held] + ([self._lost_ns] if self._lost_ns else []))

    def missing_topics(self) -> list[str]:
        """Return this member's topics the broker's last metadata did not list (deleted).

        Empty before the consumer started; the metadata is at most ``_METADATA_MAX_AGE_MS`` old.
        """
        consumer = self._consumer
        if consumer is None:
            return []
        missing = [t for t in self._topics if consumer.partitions_for_topic(t) is None]
        self._gone.update(missing)  # seen deleted (`on_assigned`)
        return missing

    def pause(self) -> None:
        """Stop fetching from every assigned partition (the caller is behind its budget)."""
        if self._consumer is not None:
            self._consumer.pause(*self._consumer.assignment())

    def resume(self) -> None:
        """Fetch again from every paused partition."""
        if self._consumer is not None:
            self._consumer.resume(*self._consumer.paused())

    async def seek_to_time(
        self, ts_ms: int, partitions: Iterable[TopicPartition] | None = None
    ) -> None:
        """Move `partitions` (default: all assigned) back to `ts_ms` (`rewind_to_time`).

        Raises:
            BusError: the offset lookup failed or timed out.
        """
        consumer = self._consumer
        if consumer is None:
            return
        tps = set(consumer.assignment() if partitions is None else partitions)
        if not tps:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                moved = await rewind_to_time(consumer, tps, ts_ms)
        except (KafkaError, TimeoutError) as exc:
            msg = "kafka: seek of group %r to %d ms failed: %r" % (self.name, ts_ms, exc)
            raise BusError(msg) from None
        for tp in moved:
            self._pending.pop(tp, None)
        msg = "kafka: group %r rewound %d of %d partitions to %d ms"
        log.info(msg, self.name, len(moved), len(tps), ts_ms)

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if self._consumer is not None and not self._closed:
            _warn("unclosed KafkaSubscription %r" % self.name, ResourceWarning, source=self)
