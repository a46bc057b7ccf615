"""Kafka bus: aiokafka producer plus one consumer per subscription.

`KafkaBus.publish` never awaits a delivery: it encodes the events into one closed batch per
partition (``create_batch``/``send_batch``, ~1 µs per record against ~10 µs for ``send()``;
partition by the key as ``send()`` would) and hands them to the producer; each batch's
future counts the outcome through ``on_delivery("ok"|"error", n)``. `KafkaBus.settle` lets
the ingest publisher wait for the last publish's acknowledgement before taking more.

At most ``max_in_flight`` events may be unacknowledged; past that, publish waits up to its
timeout and then drops, reported as ``on_drop("queue_full", n)`` exactly like the memory
bus. A producer buffer that stays full for ``request_timeout_ms`` (aiokafka's
``KafkaTimeoutError``) raises `BusBackpressure`. Topics are created at `KafkaBus.start`
when missing. Record timestamps are the producer's send time (CreateTime), so retention and
`seek_to_time` work on wall time even for old data. Tested against Apache Kafka
(``tests/support/kafka_broker.py``); other Kafka-protocol brokers may differ (Tansu 0.6
refused ``InitProducerId`` with memory storage: set ``idempotent: false`` there).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from monitor.bus.base import DropCallback
from monitor.bus.kafka.batches import PartitionBatcher
from monitor.bus.kafka.common import (
    client_options,
    compression_of,
    physical_topic,
)
from monitor.bus.kafka.consumer import KafkaSubscription
from monitor.bus.kafka.topics import ensure_topics
from monitor.config import KafkaSettings
from monitor.errors import BusBackpressure, BusError
from monitor.events import TOPIC_OF_TYPE, Event

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[str, int], None]
"""Called as ``on_delivery(outcome, count)`` when sends complete; outcome ``ok`` or ``error``."""

_ERROR_LOG_EVERY_S = 10.0
_BACKPRESSURE_RETRY_S = 1.0
_STALL_S = 5.0  # sends pending and none acknowledged for this long: the broker is down


def _ignore(reason: str, count: int) -> None:
    del reason, count


class KafkaBus:
    """The bus on Kafka topics; satisfies `monitor.bus.base.Bus`.

    Create it inside the running event loop, then ``await bus.start()`` (or ``async with``)
    before publishing. Subscriptions need no start of their own.

    Attributes:
        delivered: sends the brokers acknowledged.
        failed: sends that failed after aiokafka's retries (also reported to on_delivery).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        on_drop: DropCallback | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        self.settings = settings
        self.delivered = 0
        self.failed = 0
        self._on_drop = on_drop or _ignore
        self._on_delivery = on_delivery or _ignore
        self._topics = {cls: physical_topic(settings, t) for cls, t in TOPIC_OF_TYPE.items()}
        self._producer: Any = None
        self._subs: list[KafkaSubscription] = []
        self._in_flight = 0
        self._max_in_flight = settings.max_in_flight
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False
        self._last_error_log = 0.0
        self.end_offsets: dict[tuple[str, int], int] = {}  # acknowledged end per partition
        self._batcher = PartitionBatcher(self._topics, self._topic_missing)
        self._last: list[asyncio.Future[Any]] = []  # batch futures of the last publish
        self.last_ok_s = 0.0  # monotonic time of the last acknowledged send
        self.last_error_s = 0.0  # monotonic time of the last failed send
        self._missing: list[str] = []  # subscribed topics the broker did not list last time

    async def start(self) -> None:
        """Create missing topics, then start the producer; each step bounded in time.

        Raises:
            ConfigError: the configured compression codec is not installed.
            BusError: the brokers are unreachable or refused to create a topic.
        """
        if self._producer is not None:
            return
        compression = compression_of(self.settings)
        if self.settings.create_topics:
            await ensure_topics(self.settings)
        producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=self.settings.idempotent,
            compression_type=compression,
            linger_ms=self.settings.linger_ms,
            max_batch_size=self.settings.max_batch_bytes,
            **client_options(self.settings),
        )
        try:
            async with asyncio.timeout(self.settings.request_timeout_ms / 1000):
                await producer.start()
        except (KafkaError, TimeoutError) as exc:
            await producer.stop()
            msg = "kafka: producer cannot start on %s: %r" % (self.settings.bootstrap_servers, exc)
            raise BusError(msg) from None
        self._producer = producer
        await self._load_partitions(producer)
        log.info(
            "kafka: producer started on %s (compression %s, idempotent %s)",
            self.settings.bootstrap_servers,
            compression or "none",
            self.settings.idempotent,
        )

    async def _load_partitions(self, producer: AIOKafkaProducer) -> None:
        """Fetch the partitions of every contract topic once, at start (bounded).

        The producer knows no topic's metadata after start; without this the first publish
        to each topic waits a metadata round trip, and one with ``timeout_s=0`` drops all.
        A topic that is missing (``create_topics: false``) is looked up again on publish.
        """
        try:
            async with asyncio.timeout(self.settings.request_timeout_ms / 1000):
                for topic in self._topics.values():
                    await producer.partitions_for(topic)
        except (KafkaError, TimeoutError) as exc:
            log.warning("kafka: topic metadata not loaded at start: %r", exc)

    async def publish(self, events: Sequence[Event], *, timeout_s: float | None) -> int:
        """Hand `events` to the producer in order; return how many were accepted.

        Accepted means appended to a producer batch; delivery is counted later through
        ``on_delivery``. When ``max_in_flight`` sends are unacknowledged, waits up to
        `timeout_s` seconds for room (None: as long as it takes), then drops the rest with
        reason ``queue_full``. With `timeout_s` None, a topic missing on the broker (deleted)
        is waited for, logged and shown by `broker_state`, instead of dropping.

        Raises:
            BusBackpressure: the producer buffer stayed full for ``request_timeout_ms``
                (only reachable when `timeout_s` is None or longer than that).
            BusError: the bus is not started, closed, or the producer failed.
        """
        producer = self._producer
        if producer is None or self._closed:
            msg = "kafka: publish on a bus that is %s" % (
                "closed" if self._closed else "not started"
            )
            raise BusError(msg)
        self._last = []
        done = 0  # events handed to a batch (built), in order
        accepted = 0  # events in batches the producer took
        wait = timeout_s is None  # for a deleted topic to come back, rather than drop
        try:
            async with asyncio.timeout(timeout_s):
                while done < len(events):
                    while self._in_flight >= self._max_in_flight:
                        self._room.clear()
                        await self._room.wait()
                    stop = min(done + self._max_in_flight - self._in_flight, len(events))
                    batches = await self._batcher.build(producer, events[done:stop], wait=wait)
                    done = stop
                    for tp, builder in batches:
                        count = builder.record_count()
                        future = await self._batcher.send(producer, tp, builder, wait=wait)
                        accepted += count
                        self._in_flight += count
                        future.add_done_callback(partial(self._on_batch_done, count))
                        self._last.append(future)
        except TimeoutError:
            pass  # out of time: the rest is dropped below
        except KafkaTimeoutError:
            self._report_drop(len(events) - accepted)
            msg = "kafka: producer buffer full: %d of %d events sent" % (accepted, len(events))
            raise BusBackpressure(msg, _BACKPRESSURE_RETRY_S) from None
        except BusError:
            self._report_drop(len(events) - accepted)
            raise
        except KafkaError as exc:
            self._report_drop(len(events) - accepted)
            msg = "kafka: send failed after %d of %d events: %r" % (accepted, len(events), exc)
            raise BusError(msg) from None
        self._report_drop(len(events) - accepted)
        return accepted

    async def settle(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` until the last publish's batches are acknowledged or failed.

        The ingest publisher calls this between publishes: aiokafka has one produce request
        in flight per broker, so events taken while it is out would only queue behind it in
        smaller batches; taken after it, they go in the next request as one batch per
        partition. Returns True when nothing of the last publish is pending.
        """
        pending = [f for f in self._last if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        return all(f.done() for f in self._last)

    @property
    def running(self) -> bool:
        """Return True between `start` and `close` (sends are possible)."""
        return self._producer is not None and not self._closed

    async def send_raw(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        """Append one already-encoded record to contract `topic`; return its delivery future.

        For records that are not contract events (`monitor.events.WindowSummary`); the
        caller awaits the future (bounded) when it must know the record is stored.

        Raises:
            BusError: the bus is not started or closed, or the send failed.
        """
        if not self.running or (producer := self._producer) is None:
            raise BusError("kafka: send on a bus that is not running")  # noqa: EM101
        try:
            future: asyncio.Future[Any] = await producer.send(
                physical_topic(self.settings, topic), value, key=key
            )
        except KafkaError as exc:
            msg = "kafka: send to %s failed: %r" % (topic, exc)
            raise BusError(msg) from None
        self._in_flight += 1
        future.add_done_callback(self._on_done)
        return future

    def broker_state(self) -> str:
        """Return the broker's state as this process sees it, for ``/readyz`` and the gauge.

        ``down``: the last send failed, or sends are pending and none was acknowledged for
        5 s, or a subscription's topics are gone from the broker (deleted: it reads nothing);
        ``up``: acknowledging; ``idle``: nothing sent yet. Logs when missing topics change.
        """
        missing = sorted({t for sub in self._subs for t in sub.missing_topics()})
        if missing != self._missing:
            self._missing = missing
            level = logging.WARNING if missing else logging.INFO
            log.log(level, "kafka: subscribed topics missing on the broker: %s", missing)
        now = time.monotonic()
        if missing or self.last_error_s > self.last_ok_s:
            return "down"
        if self._in_flight and self.last_ok_s and now - self.last_ok_s > _STALL_S:
            return "down"
        return "up" if self.last_ok_s else "idle"

    def _topic_missing(self, topic: str) -> None:
        """The producer found no partitions of `topic` (deleted): the broker counts as down."""
        self.last_error_s = time.monotonic()
        log.warning("kafka: topic %s is not on the broker; publish waits for it", topic)
        if self._closed:
            msg = "kafka: bus closed while topic %s was missing" % topic
            raise BusError(msg)

    def _report_drop(self, count: int) -> None:
        if count > 0:
            self._on_drop("queue_full", count)

    def _on_done(self, future: asyncio.Future[Any]) -> None:
        """Done-callback of one record's future (`send_raw`)."""
        self._on_batch_done(1, future, per_record=True)

    def _on_batch_done(
        self, count: int, future: asyncio.Future[Any], *, per_record: bool = False
    ) -> None:
        """Count the outcome of `count` records, free their in-flight room.

        `future` is a batch's future (its result holds the base offset) or, with
        `per_record`, one record's (its own offset).
        """
        self._in_flight -= count
        if self._in_flight < self._max_in_flight:
            self._room.set()
        if future.cancelled():
            error: BaseException | None = asyncio.CancelledError()
        else:
            error = future.exception()
        if error is None:
            self.delivered += count
            self.last_ok_s = time.monotonic()
            meta = future.result()
            key = (meta.topic, meta.partition)
            end = meta.offset + (1 if per_record else count)
            if end > self.end_offsets.get(key, 0):
                self.end_offsets[key] = end
            self._on_delivery("ok", count)
            return
        self.failed += count
        self.last_error_s = time.monotonic()
        self._on_delivery("error", count)
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_EVERY_S:
            self._last_error_log = now
            log.warning("kafka: delivery failed (%d failures so far): %r", self.failed, error)

    def subscribe(
        self,
        topics: Sequence[str],
        name: str,
        *,
        rewind_on_assign_ns: int | None = None,
        fetch_max_wait_ms: int | None = None,
    ) -> KafkaSubscription:
        """Return a member of consumer group `name` reading the contract topics `topics`.

        Before a rebalance takes partitions from the member, it waits (at most half a
        session) for this bus's pending sends, so their next owner finds them on the topics.

        Args:
            topics: contract topic names (``liqmon.*.v1``) (``topic_prefix`` is applied here).
            name: the consumer group id; members with the same name split the partitions.
            rewind_on_assign_ns: when set, partitions newly assigned to this member are
                re-read from that long ago (nanoseconds), to rebuild windows.
            fetch_max_wait_ms: how long the broker may hold a fetch when there is nothing
                to read (default ``bus.kafka.fetch_max_wait_ms``); longer for low-volume
                topics, where each empty fetch costs the broker and the client.
        """
        sub = KafkaSubscription(
            [physical_topic(self.settings, t) for t in topics],
            name,
            self.settings,
            client_options(self.settings),
            self._on_drop,
            rewind_on_assign_ns,
            fetch_max_wait_ms,
            self.flush,
        )
        self._subs.append(sub)
        return sub

    def depth(self) -> int:
        """Return the number of sends not yet acknowledged by the brokers."""
        return self._in_flight

    async def flush(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` seconds for every pending send; return True if all done."""
        if self._producer is None:
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await self._producer.flush()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """End subscriptions, flush the producer (``close_timeout_ms``), then stop it."""
        self._closed = True
        for sub in self._subs:
            await sub.stop()
        if self._producer is None:
            return
        if not await self.flush(self.settings.close_timeout_ms / 1000):
            log.warning(
                "kafka: %d sends still pending after %d ms at close",
                self._in_flight,
                self.settings.close_timeout_ms,
            )
        producer, self._producer = self._producer, None
        try:
            # Pending batches expire after request_timeout_ms, which bounds stop().
            async with asyncio.timeout(self.settings.request_timeout_ms / 1000 + 1):
                await producer.stop()
        except TimeoutError:
            log.warning("kafka: producer did not stop; %d sends lost", self._in_flight)

    stop = close

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if self._producer is not None and not self._closed:
            _warn("unclosed KafkaBus", ResourceWarning, source=self)
