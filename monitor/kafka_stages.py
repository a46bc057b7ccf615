"""The two stages of ``liqmon aggregate`` on Kafka.

`BucketStage` (stage 1) is a consumer-group member on the input topics: per assigned
partition it buckets events into closed seconds (`monitor.aggregate.partial`) and publishes
them as `WindowSummary` records to ``liqmon.windows.v1``; it commits, per partition, the
first record of the oldest still-open second, and only after the summaries it published are
acknowledged. After any rebalance (aiokafka rebalances eagerly: every partition restarts from
its committed offset) its state is rebuilt from Kafka by re-reading from there.

`CrossStage` (stage 2) is a member of a second group on the one-partition windows topic, so
exactly one process runs it. It merges every source (`monitor.aggregate.merge`) into one
`Engine` (windows, baselines, detectors, alert book at all four levels) and publishes alert
transitions to ``liqmon.alerts.v1``. When it gains the partition it rebuilds silently: it
re-reads the windows topic from its start (bounded by the topic's retention), and first
loads the alerts topic, so a transition already published is never published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from monitor.aggregate.engine import Engine
from monitor.aggregate.merge import SummaryMerger
from monitor.aggregate.partial import PartitionBuckets
from monitor.bus.kafka import KafkaBus
from monitor.bus.kafka_common import (
    client_options,
    partitions_of,
    physical_topic,
    seek_to_start,
)
from monitor.bus.kafka_consumer import KafkaSubscription
from monitor.codec import decode
from monitor.config import Settings
from monitor.errors import BusError, InputError
from monitor.events import (
    TOPIC_ALERTS,
    TOPIC_LIQUIDATIONS,
    TOPIC_MARGIN,
    TOPIC_TICKS,
    TOPIC_WINDOWS,
    Alert,
    Event,
    Liquidation,
    MarginChange,
    Tick,
    WindowSummary,
)
from monitor.metrics import Metrics

log = logging.getLogger(__name__)

NS: Final = 1_000_000_000
CLOSE_LAG_NS: Final = 5 * NS  # live: idle seconds close this long after wall time (as run_app)
# The cross stage closes by the clock later than stage 1, which publishes the seconds it
# closes by the clock: the summary path (publish, acknowledgement, fetch) must fit in between.
_CROSS_LAG_NS: Final = CLOSE_LAG_NS + 2 * NS
_ENCODER: Final = msgspec.json.Encoder()
_MAX_PAUSE_S: Final = 1.0
# The windows topic gets a few summaries a second: a fetch held this long saves ~90 empty
# fetches a second at the broker and in this process; Apache Kafka answers as soon as data
# comes, so it costs the alert path nothing (a broker that held fetches to the deadline would
# add ≤ 0.1 s).
_CROSS_FETCH_WAIT_MS: Final = 100
_SUMMARY: Final = msgspec.json.Decoder(WindowSummary)
_EVENT: Final = msgspec.json.Decoder(Event)  # `monitor.codec.decode` without its wrapper
_ALERT_KEY = tuple[str, str, int, int]

AlertHandler = Callable[[list[Alert]], None]


def alert_key(alert: Alert) -> _ALERT_KEY:
    """Return what identifies one published transition: id, state, event time, wave."""
    return (alert.alert_id, alert.state, alert.ts_ns, alert.wave)


def source_ids(settings: Settings) -> list[str]:
    """Return every ``"<topic>:<partition>"`` the cross stage expects a summary from."""
    k = settings.bus.kafka
    return [
        "%s:%d" % (physical_topic(k, t), p)
        for t in (TOPIC_LIQUIDATIONS, TOPIC_TICKS)
        for p in range(partitions_of(k, t))
    ]


class BucketStage:
    """Stage 1: input partitions → `WindowSummary` records; one per process.

    Args:
        bus: a started Kafka bus (producer of the summaries).
        settings: the configuration.
        metrics: where counts, lag and latency go.
        group: the consumer group id shared by every ``aggregate`` process.
        live: close idle seconds by the wall clock (off for replays: event time only).
    """

    def __init__(
        self, bus: KafkaBus, settings: Settings, metrics: Metrics, group: str, *, live: bool
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.metrics = metrics
        self.live = live
        self.sub: KafkaSubscription = bus.subscribe(
            (TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_MARGIN), group
        )
        self.parts: dict[TopicPartition, PartitionBuckets] = {}
        self.positions: dict[tuple[str, int], int] = {}  # next offset per (topic, partition)
        self.latency_s: list[float] = []  # frame received → bucket updated (benchmarks)
        self.record_latency = False
        self._rebalances = 0
        self._idle_sent: set[TopicPartition] = set()
        self._grace_ns = settings.aggregate.grace_ms * 1_000_000
        self._lateness_ns = settings.aggregate.allowed_lateness_ms * 1_000_000
        self._budget_s = settings.aggregate.micro_batch_ms / 1000
        self._tick_budget_s = settings.aggregate.tick_budget_ms / 1000
        self.paused = False  # fetching paused: the last batch overran its budget
        self.pauses = 0

    async def run(self) -> None:
        """Consume until the subscription stops; every batch ends with a commit."""
        agg = self.settings.aggregate
        async for records in self.sub.records(agg.micro_batch_max_events, agg.micro_batch_ms):
            started = time.perf_counter()
            if self.sub.rebalances != self._rebalances:
                self._rebalances = self.sub.rebalances
                self.parts.clear()  # every partition restarts from its committed offset
                self._idle_sent.clear()
            self._take(records)
            await self._publish(self._close_all(), started)
            await self.sub.commit()
            elapsed = time.perf_counter() - started
            self._observe(elapsed)
            self._keep_budget(elapsed)

    def _keep_budget(self, elapsed_s: float) -> None:
        """Over ``aggregate.tick_budget_ms``: pause fetching for the overrun (at most 1 s).

        The loop then publishes, commits, heartbeats and serves HTTP before it takes more;
        the backlog shows in ``liqmon_bus_consumer_lag_events``.
        """
        overrun_s = elapsed_s - self._tick_budget_s
        if overrun_s <= 0 or self.paused:
            return
        retry_after_s = min(overrun_s, _MAX_PAUSE_S)
        self.paused = True
        self.pauses += 1
        self.sub.pause()
        log.debug(
            "bucket stage: batch took %.3f s (budget %.3f s): partitions paused for %.3f s",
            elapsed_s,
            self._tick_budget_s,
            retry_after_s,
        )
        asyncio.get_running_loop().call_later(retry_after_s, self._resume)

    def _resume(self) -> None:
        self.paused = False
        self.sub.resume()

    def _take(self, records: dict[TopicPartition, list[Any]]) -> None:
        now_ns = time.time_ns()
        for tp, messages in records.items():
            events, offsets = self._decode(messages)
            if messages:
                self.positions[(tp.topic, tp.partition)] = messages[-1].offset + 1
            if tp.topic == physical_topic(self.settings.bus.kafka, TOPIC_MARGIN):
                if messages:
                    self.sub.mark(tp, messages[-1].offset + 1)
                continue
            part = self.parts.get(tp)
            if part is None:
                source = "%s:%d" % (tp.topic, tp.partition)
                part = self.parts[tp] = PartitionBuckets(source, self._grace_ns, self._lateness_ns)
            if self.record_latency:
                self.latency_s += [(now_ns - e.ts_recv_ns) / 1e9 for e in events]
            self.metrics.observe_batch(events, 0.0)
            for exchange, dropped in part.add(events, offsets):
                self.metrics.late(exchange, dropped=dropped)

    def _decode(self, messages: list[Any]) -> tuple[list[Liquidation | Tick], list[int]]:
        """Return the market events of `messages` with their offsets; count what is bad.

        Called once per partition per batch: the hot loop of stage 1 (~1.5 µs a record).
        """
        events: list[Liquidation | Tick] = []
        offsets: list[int] = []
        add_event, add_offset = events.append, offsets.append
        decode = _EVENT.decode
        bad = 0
        for message in messages:
            try:
                event = decode(message.value or b"")
            except msgspec.DecodeError:
                bad += 1
                continue
            if isinstance(event, Liquidation | Tick):
                add_event(event)
                add_offset(message.offset)
            elif isinstance(event, MarginChange):
                self.metrics.observe_margin_change(event)
        if bad:
            self.metrics.dropped.labels("decode").inc(bad)
        return events, offsets

    def _close_all(self) -> list[WindowSummary]:
        wall = time.time_ns()
        out: list[WindowSummary] = []
        for tp, part in self.parts.items():
            now = self.sub.heard_ns((tp,), wall) - CLOSE_LAG_NS if self.live else None
            summary = part.close(part.first_open(now))
            if summary is not None:
                out.append(summary)
        for tp in self.sub.assignment():
            if tp in self.parts or tp in self._idle_sent or tp.topic.endswith(".margin.v1"):
                continue
            if self.sub.highwater(tp) == 0:  # caught up on an empty partition
                self._idle_sent.add(tp)
                source = "%s:%d" % (tp.topic, tp.partition)
                out.append(WindowSummary(source=source, closed_before=0, max_ts_ns=-1, idle=True))
        return out

    async def flush(self) -> None:
        """Close every open second of every partition (end of a replay) and publish."""
        out = [s for s in (p.flush() for p in self.parts.values()) if s is not None]
        await self._publish(out, time.perf_counter())

    async def _publish(self, summaries: Sequence[WindowSummary], started: float) -> None:
        """Send `summaries`, wait for their acknowledgement, then mark safe offsets."""
        futures = [
            await self.bus.send_raw(TOPIC_WINDOWS, s.source.encode(), _ENCODER.encode(s))
            for s in summaries
        ]
        if futures:
            timeout_s = self.settings.bus.kafka.request_timeout_ms / 1000
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*futures)
        for tp, part in self.parts.items():
            self.sub.mark(tp, part.safe_offset())
        if time.perf_counter() - started > self._budget_s:
            log.debug("bucket stage over its tick budget: %.3f s", time.perf_counter() - started)

    def _observe(self, seconds: float) -> None:
        m = self.metrics
        m.tick_seconds.observe(seconds)
        lag = 0
        for tp in self.sub.assignment():
            hw = self.sub.highwater(tp)
            pos = self.positions.get((tp.topic, tp.partition))
            if hw is not None and pos is not None:
                lag += max(hw - pos, 0)
        m.consumer_lag.labels("kafka").set(lag)
        m.queue_depth.labels("kafka").set(self.bus.depth())


class CrossStage:
    """Stage 2: the windows topic → one `Engine` → alerts; active in one process at a time.

    Args:
        bus: a started Kafka bus (producer of the alerts).
        settings: the configuration.
        metrics: where window gauges and alert counts go.
        group: the stage-1 group id; this stage joins ``<group>-cross``.
        on_alerts: called with each batch of new (not already published) transitions.
        live: close seconds by the wall clock too (off for replays).
    """

    def __init__(
        self,
        bus: KafkaBus,
        settings: Settings,
        metrics: Metrics,
        group: str,
        on_alerts: AlertHandler,
        *,
        live: bool,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.metrics = metrics
        self.on_alerts = on_alerts
        self.live = live
        k = settings.bus.kafka
        self.sub: KafkaSubscription = bus.subscribe(
            (TOPIC_WINDOWS,),
            group + "-cross",
            fetch_max_wait_ms=max(k.fetch_max_wait_ms, _CROSS_FETCH_WAIT_MS),
        )
        self.engine = Engine(settings, metrics)
        self.merger = SummaryMerger(self.engine, source_ids(settings))
        self.published: set[_ALERT_KEY] = set()
        self.position = 0  # next offset of the windows partition
        self.active = False
        self._rebalances = 0

    async def run(self) -> None:
        """Consume summaries until the subscription stops; commit after each batch."""
        async for records in self.sub.records(10_000, self.settings.aggregate.micro_batch_ms):
            if self.sub.rebalances != self._rebalances:
                self._rebalances = self.sub.rebalances
                await self._rebuild()
                continue
            summaries: list[WindowSummary] = []
            for messages in records.values():
                for message in messages:
                    with contextlib.suppress(msgspec.DecodeError):
                        summaries.append(_SUMMARY.decode(message.value or b""))
                if messages:
                    self.position = messages[-1].offset + 1
            self.merger.take(summaries)
            now = self.sub.heard_ns(self.sub.assignment(), time.time_ns()) - _CROSS_LAG_NS
            await self._emit(self.merger.advance(now if self.live else None))
            await self.sub.commit()
            self._observe()

    async def _rebuild(self) -> None:
        """Start over from the windows topic's first record, knowing what is published."""
        tps = self.sub.assignment()
        self.active = bool(tps)
        self.engine = Engine(self.settings, self.metrics)
        self.merger = SummaryMerger(self.engine, source_ids(self.settings))
        self.position = 0
        if not tps:
            return
        self.published |= await self._published_alerts()
        await self.sub.seek_to_start(tps)
        log.info(
            "cross stage: rebuilding from the windows topic (%d alerts known)", len(self.published)
        )

    async def _published_alerts(self) -> set[_ALERT_KEY]:
        """Read the whole alerts topic (bounded by ``request_timeout_ms``) into keys."""
        k = self.settings.bus.kafka
        topic = physical_topic(k, TOPIC_ALERTS)
        consumer = AIOKafkaConsumer(
            enable_auto_commit=False, auto_offset_reset="earliest", **client_options(k)
        )
        keys: set[_ALERT_KEY] = set()
        try:
            async with asyncio.timeout(k.request_timeout_ms / 1000):
                await consumer.start()
                tps = [TopicPartition(topic, p) for p in range(partitions_of(k, TOPIC_ALERTS))]
                consumer.assign(tps)
                ends = await consumer.end_offsets(tps)
                await seek_to_start(consumer, tps)
                while not await _at_end(consumer, ends):
                    for messages in (await consumer.getmany(timeout_ms=100)).values():
                        for message in messages:
                            with contextlib.suppress(InputError):
                                event = decode(message.value or b"")
                                if isinstance(event, Alert):
                                    keys.add(alert_key(event))
        except (KafkaError, TimeoutError) as exc:
            msg = "kafka: cannot read the alerts topic %s: %r" % (topic, exc)
            raise BusError(msg) from None
        finally:
            await consumer.stop()
        return keys

    async def _emit(self, alerts: list[Alert]) -> None:
        fresh = [a for a in alerts if alert_key(a) not in self.published]
        if not fresh:
            return
        self.published.update(alert_key(a) for a in fresh)
        self.on_alerts(fresh)
        await self.bus.publish(fresh, timeout_s=None)

    async def flush(self) -> None:
        """Close every second (end of a replay) and publish what that causes."""
        await self._emit(self.merger.advance() + self.merger.flush())

    def _observe(self) -> None:
        m, engine = self.metrics, self.engine
        if engine.closed_sec is not None:
            m.watermark.set(engine.closed_sec)
        engine.export(m)


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Return True when `consumer` has read every partition of `ends` to its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
