"""Stage 1 of ``liqmon aggregate`` on Kafka: input partitions → window summaries.

`BucketStage` (stage 1) is a consumer-group member on the input topics: per assigned
partition it buckets events into closed seconds (`monitor.aggregate.windows.partial`) and publishes
them as `WindowSummary` records to ``liqmon.windows.v1``; it commits, per partition, the
first record of the oldest still-open second, and only after the summaries it published are
acknowledged. After any rebalance (aiokafka rebalances eagerly: every partition restarts from
its committed offset) its state is rebuilt from Kafka by re-reading from there.

Stage 2 is `monitor.runtime.kafka.cross.CrossStage`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from monitor.aggregate.windows.partial import PartitionBuckets, split_summary
from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import (
    partitions_of,
    physical_topic,
)
from monitor.bus.kafka.consumer import KafkaSubscription
from monitor.config import Settings
from monitor.errors import BusError
from monitor.events import (
    NS,
    TOPIC_LIQUIDATIONS,
    TOPIC_MARGIN,
    TOPIC_TICKS,
    TOPIC_WINDOWS,
    Event,
    Liquidation,
    MarginChange,
    Tick,
    WindowSummary,
)
from monitor.observability.metrics import Metrics
from monitor.runtime.core import CLOSE_LAG_NS
from monitor.runtime.kafka.margin import MarginForward

log = logging.getLogger(__name__)
_RESEND_S: Final = 1.0  # pause before window summaries that were not stored are sent again
# Live, a caught-up partition closes by the wall clock when its newest event is this recent
# (venue data arrives seconds after its event time; an outage's backlog within a minute)...
_LIVE_NS: Final = 60 * NS
# ...or when no record came for this long (idle: a recording published to the topics ended,
# or the partition is empty); until then an older tail may go on in event time.
_IDLE_NS: Final = 10 * NS

_ENCODER: Final = msgspec.json.Encoder()
_MAX_PAUSE_S: Final = 1.0
# rows per windows-topic record: 4,000 price rows with spreads made 0.5 MB on feb-2026, under
# the producer's 1 MiB request size (a fast replay closes many seconds at once)
_MAX_SUMMARY_ROWS: Final = 4_000
_EVENT: Final = msgspec.json.Decoder(Event)  # `monitor.codec.decode` without its wrapper


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
        idle_empty: mark an input partition that is empty once caught up idle, so it holds
            no merge (None: as `live`). On for a live aggregate or a long-running one on
            event time; off in a replay, whose partitions may be empty only until the
            publisher's first batch lands (its end-of-replay flush closes everything).
    """

    def __init__(
        self,
        bus: KafkaBus,
        settings: Settings,
        metrics: Metrics,
        group: str,
        *,
        live: bool,
        idle_empty: bool | None = None,
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
        self._records_ns: dict[TopicPartition, int] = {}  # wall ns of each one's last records
        self.idle_empty = live if idle_empty is None else idle_empty
        self._margins = MarginForward()  # margin changes go to the cross stage (kafka_margin)
        self._grace_ns = settings.aggregate.grace_ms * 1_000_000
        self._lateness_ns = settings.aggregate.allowed_lateness_ms * 1_000_000
        self._budget_s = settings.aggregate.micro_batch_ms / 1000
        self._tick_budget_s = settings.aggregate.tick_budget_ms / 1000
        self.paused = False  # fetching paused: the last batch overran its budget
        self.pauses = 0
        self._batch = asyncio.Lock()  # a batch's take, close and publish; `flush` waits for it

    async def run(self) -> None:
        """Consume until the subscription stops; every batch ends with a commit."""
        agg = self.settings.aggregate
        async for records in self.sub.records(agg.micro_batch_max_events, agg.micro_batch_ms):
            started = time.perf_counter()
            async with self._batch:
                if self.sub.rebalances != self._rebalances:
                    self._rebalances = self.sub.rebalances
                    self.parts.clear()  # every partition restarts from its committed offset
                    self._margins.reset()
                    self._idle_sent.clear()
                    self._records_ns.clear()
                    await self._adopt(self.sub.assignment())
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

    async def _adopt(self, assigned: set[TopicPartition]) -> None:
        """After a rebalance: learn where each assigned partition is read from.

        A partition whose records the previous owner all processed and committed gives this
        member no record: without its position it would look behind forever (a margin
        partition then held the cross stage's merge for good), and a quiet input partition
        would send no summary, so the cross stage stayed at the previous owner's last one
        until a record came. Such a partition gets its buckets now (nothing open, resuming
        at its position), and live it closes by the wall clock once caught up.

        Called once per rebalance, before the batch that follows it is taken.
        """
        self.positions = {}
        margin = physical_topic(self.settings.bus.kafka, TOPIC_MARGIN)
        for tp in assigned:
            position = await self.sub.position(tp)
            if position is None:
                continue
            self.positions[(tp.topic, tp.partition)] = position
            if position > 0 and tp.topic != margin:
                self._part(tp).next_offset = position

    def _part(self, tp: TopicPartition) -> PartitionBuckets:
        """Return the open buckets of `tp`, made on first use."""
        part = self.parts.get(tp)
        if part is None:
            source = "%s:%d" % (tp.topic, tp.partition)
            part = self.parts[tp] = PartitionBuckets(source, self._grace_ns, self._lateness_ns)
        return part

    def _take(self, records: dict[TopicPartition, list[Any]]) -> None:
        now_ns = time.time_ns()
        for tp, messages in records.items():
            events, offsets, margins = self._decode(messages)
            if messages:
                self.positions[(tp.topic, tp.partition)] = messages[-1].offset + 1
                self._records_ns[tp] = now_ns
            if tp.topic == physical_topic(self.settings.bus.kafka, TOPIC_MARGIN):
                if messages:  # forwarded in the next publish; marked once it is acknowledged
                    self._margins.take(tp, margins, messages[-1].offset + 1)
                continue
            part = self._part(tp)
            if self.record_latency:
                self.latency_s += [(now_ns - e.ts_recv_ns) / 1e9 for e in events]
            self.metrics.observe_batch(events, 0.0)
            for exchange, dropped in part.add(events, offsets):
                self.metrics.late(exchange, dropped=dropped)

    def _decode(
        self, messages: list[Any]
    ) -> tuple[list[Liquidation | Tick], list[int], list[MarginChange]]:
        """Return the market events of `messages` with their offsets, and the margin changes.

        What does not decode is counted and skipped.

        Called once per partition per batch: the hot loop of stage 1 (~1.5 µs a record).
        """
        events: list[Liquidation | Tick] = []
        offsets: list[int] = []
        margins: list[MarginChange] = []
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
                margins.append(event)  # counted by the cross stage's engine, once per id
        if bad:
            self.metrics.dropped.labels("decode").inc(bad)
        return events, offsets, margins

    def _close_all(self) -> list[WindowSummary]:
        wall = time.time_ns()
        out: list[WindowSummary] = []
        for tp, part in self.parts.items():
            summary = part.close(part.first_open(self._clock(tp, part, wall)))
            if summary is not None:
                out.append(summary)
        out += self._margin_summaries()
        if not self.idle_empty:
            return out
        for tp in self.sub.assignment():
            if tp in self.parts or tp in self._idle_sent or tp.topic.endswith(".margin.v1"):
                continue
            quiet = wall - self._records_ns.setdefault(tp, wall) >= _IDLE_NS or not self.live
            if quiet and self.sub.highwater(tp) == 0:  # caught up on an empty partition
                self._idle_sent.add(tp)
                source = "%s:%d" % (tp.topic, tp.partition)
                out.append(WindowSummary(source=source, closed_before=0, max_ts_ns=-1, idle=True))
        return out

    def _clock(self, tp: TopicPartition, part: PartitionBuckets, wall_ns: int) -> int | None:
        """Return a partition's live close clock (epoch ns), or None: event time only.

        Live, a partition closes by the wall clock, held at the broker's last answer
        (`heard_ns`) and `CLOSE_LAG_NS` behind it, once it is read to the end its last fetch
        reported and either its newest event is live (within `_LIVE_NS` of the wall clock)
        or no record came for `_IDLE_NS` (it is idle). Otherwise it closes in event time
        alone, as a replay does: a recording of any age published to the topics, or what
        piled up during an outage or a rebalance, is judged by its own times and never
        pushed past by the wall clock; its last seconds close once it is idle.
        """
        if not self.live:
            return None
        end = self.sub.highwater(tp)
        read = self.positions.get((tp.topic, tp.partition))
        if end is None or read is None or read < end:
            return None  # a backlog
        live = part.max_ts_ns is not None and part.max_ts_ns >= wall_ns - _LIVE_NS
        if not live and wall_ns - self._records_ns.get(tp, 0) < _IDLE_NS:
            return None  # a tail of older events that may go on
        return self.sub.heard_ns((tp,), wall_ns) - CLOSE_LAG_NS

    async def flush(self) -> None:
        """Close every open second of every partition (end of a replay) and publish.

        Waits for the batch in progress: its summaries go first, so none lands behind the
        flush's (the cross stage would drop its rows as already closed).
        """
        async with self._batch:
            out = [s for s in (p.flush() for p in self.parts.values()) if s is not None]
            await self._publish(out + self._margin_summaries(), time.perf_counter())

    def _margin_summaries(self) -> list[WindowSummary]:
        margin = physical_topic(self.settings.bus.kafka, TOPIC_MARGIN)
        tps = [tp for tp in self.sub.assignment() if tp.topic == margin]
        return self._margins.summaries(tps, self._behind)

    def _behind(self, tp: TopicPartition) -> bool:
        """Return True unless `tp` was read up to the end the broker last reported."""
        end = self.sub.highwater(tp)
        return end is None or self.positions.get((tp.topic, tp.partition), 0) < end

    async def _publish(self, summaries: Sequence[WindowSummary], started: float) -> None:
        """Send `summaries`, wait for their acknowledgement, then mark safe offsets.

        A send that is not acknowledged within ``request_timeout_ms`` (the broker or the
        windows topic gone) is sent again, every `_RESEND_S`, until it is: the offsets stay
        unmarked meanwhile, and a record stored twice is dropped by the cross stage (it
        keeps each source's closed seconds). The stage reads nothing more until then.
        """
        records = [
            (s.source.encode(), _ENCODER.encode(part))
            for s in summaries
            for part in split_summary(s, _MAX_SUMMARY_ROWS)
        ]
        timeout_s = self.settings.bus.kafka.request_timeout_ms / 1000
        failures = 0
        while records:
            try:
                futures = [await self.bus.send_raw(TOPIC_WINDOWS, k, v) for k, v in records]
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*futures)
                break
            except (BusError, KafkaError, TimeoutError) as exc:
                if not self.bus.running:
                    raise  # stopping: what is not stored is read again by the next owner
                failures += 1
                if failures == 1:
                    log.warning("window summaries not stored (%r); sending them again", exc)
                await asyncio.sleep(_RESEND_S)
        if failures:
            log.info("window summaries stored after %d failed sends", failures)
        for tp, part in self.parts.items():
            self.sub.mark(tp, part.safe_offset())
        for tp, next_offset in self._margins.marks().items():
            self.sub.mark(tp, next_offset)
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
