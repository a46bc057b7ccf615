"""Stage 2 of ``liqmon aggregate`` on Kafka: the windows topic → one `Engine` → alerts.

`CrossStage` is a member of a group of its own on the one-partition windows topic, so
exactly one process runs it. It merges every source (`monitor.aggregate.windows.merge`) into one
`Engine` (windows, baselines, detectors, alert book at all four levels) and publishes alert
transitions to ``liqmon.alerts.v1``. Margin changes reach it inside the summaries (stage 1
forwards the margin topic's records), so the margin-hike rule runs here as in ``liqmon
run``. When it gains the partition it rebuilds silently: it re-reads the windows topic from
its start (bounded by the topic's retention), and first loads the alerts topic, so a
transition already published is never published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import client_options, partitions_of, physical_topic, seek_to_start
from monitor.bus.kafka.consumer import KafkaSubscription
from monitor.codec import decode
from monitor.config import Settings
from monitor.errors import BusError, InputError
from monitor.events import TOPIC_ALERTS, TOPIC_WINDOWS, Alert, WindowSummary
from monitor.observability.metrics import Metrics
from monitor.runtime.kafka.cross_state import CrossState
from monitor.runtime.kafka.stages import source_ids
from monitor.sessions.calendar import SessionCalendar

log = logging.getLogger(__name__)

# The windows topic gets a few summaries a second: a fetch held this long saves ~90 empty
# fetches a second at the broker and in this process; Apache Kafka answers as soon as data
# comes, so it costs the alert path nothing (a broker that held fetches to the deadline would
# add ≤ 0.1 s).
_CROSS_FETCH_WAIT_MS: Final = 100
# Seconds of event time closed between two yields to the event loop: a replay or a backlog
# can close hours at once, and the engine's few ms per second would then hold the loop (and
# the group heartbeats: a session expired on a loaded machine) for minutes.
_CLOSE_STEP_S: Final = 60
_SUMMARY: Final = msgspec.json.Decoder(WindowSummary)
_ALERT_KEY = tuple[str, str, int, int]

AlertHandler = Callable[[list[Alert]], None]


def alert_key(alert: Alert) -> _ALERT_KEY:
    """Return what identifies one published transition: id, state, event time, wave."""
    return (alert.alert_id, alert.state, alert.ts_ns, alert.wave)


class CrossStage:
    """Stage 2: the windows topic → one `Engine` → alerts; active in one process at a time.

    Args:
        bus: a started Kafka bus (producer of the alerts).
        settings: the configuration.
        metrics: what the engine counts; its state gauges read the stage's current engine
            at each scrape (a rebuild builds a new engine on `metrics`, which replaces it).
        group: the stage-1 group id; this stage joins ``<group>-cross``.
        on_alerts: called with each batch of new (not already published) transitions.

    It closes seconds in event time only, on the merged watermark of its sources; live, the
    wall clock reaches it through stage 1, whose caught-up partitions close by it. So a
    backlog (a recording of any age, a catch-up after an outage) is never pushed past.
    """

    def __init__(
        self,
        bus: KafkaBus,
        settings: Settings,
        metrics: Metrics,
        group: str,
        on_alerts: AlertHandler,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.metrics = metrics
        self.on_alerts = on_alerts
        k = settings.bus.kafka
        self.sub: KafkaSubscription = bus.subscribe(
            (TOPIC_WINDOWS,),
            group + "-cross",
            fetch_max_wait_ms=max(k.fetch_max_wait_ms, _CROSS_FETCH_WAIT_MS),
        )
        # the TradFi sessions outlive every rebuilt engine: `build_session_sources` feeds them
        self.sessions = SessionCalendar()
        self.engine = Engine(settings, metrics, self.sessions)
        self.merger = SummaryMerger(self.engine, source_ids(settings))
        self.published: set[_ALERT_KEY] = set()
        self.position = 0  # next offset of the windows partition
        self.active = False
        self.assignments_seen = 0  # assignments acted on (rebuilt after); tests wait on it
        self._between = True  # not inside a batch: a snapshot now is consistent
        self._batch = asyncio.Lock()  # a batch's merge, close and emit; `flush` waits for it
        windows = physical_topic(k, TOPIC_WINDOWS)
        self.state = CrossState(settings.state, windows, group) if settings.state.enabled else None

    async def run(self) -> None:
        """Consume summaries until cancelled; commit after each batch; save state at a stop."""
        try:
            await self._consume()
        except asyncio.CancelledError:
            await self.save_state()  # a clean stop, not a crash (kill() turns saving off)
            raise

    async def _consume(self) -> None:
        async for records in self.sub.records(10_000, self.settings.aggregate.micro_batch_ms):
            if self.sub.rebalances != self.assignments_seen:
                self.assignments_seen = self.sub.rebalances
                await self._rebuild()
                continue
            async with self._batch:
                self._between = False
                summaries: list[WindowSummary] = []
                for messages in records.values():
                    for message in messages:
                        with contextlib.suppress(msgspec.DecodeError):
                            summaries.append(_SUMMARY.decode(message.value or b""))
                    if messages:
                        self.position = messages[-1].offset + 1
                self.merger.take(summaries)
                await self._advance(in_batch=True)
                await self.sub.commit()
                self._between = True
            if self.state is not None and self.active and self.state.due():
                await self.state.save(self.engine, self.merger, self.position)

    async def save_state(self) -> None:
        """Save the state file at a clean stop, if the stage is between batches (else not)."""
        if self.state is not None and self.active and self._between:
            await self.state.save(self.engine, self.merger, self.position)

    async def _rebuild(self) -> None:
        """Start over: from the state file if it fits, else from the windows topic's start.

        Either way, first learn what is already on the alerts topic. `active` is set once
        the stage is ready to read (tests and `drain_to_end` wait for it).
        """
        tps = self.sub.assignment()
        self.active = False
        self.engine = Engine(self.settings, self.metrics, self.sessions)
        self.merger = SummaryMerger(self.engine, source_ids(self.settings))
        self.position = 0
        if not tps:
            return
        self.published |= await self._published_alerts()
        if not await self._restore(tps):
            await self.sub.seek_to_start(tps)
            log.info(
                "cross stage: rebuilding from the windows topic (%d alerts known)",
                len(self.published),
            )
        self.active = True

    async def _restore(self, tps: set[TopicPartition]) -> bool:
        """Restore the state file and seek past what it holds; False: rebuild instead."""
        if self.state is None or len(tps) != 1:
            return False
        (tp,) = tps
        begin, end = await self.sub.kept(tp)
        position = self.state.restore(self.engine, self.merger, begin, end)
        if position is None:
            return False
        self.position = position
        self.sub.seek(tp, position)
        return True

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

    async def _advance(self, *, in_batch: bool = False) -> None:
        """Close what the merger can (`SummaryMerger.advance`); see `_close_to`."""
        await self._wake_idle()
        await self._close_to(self.merger.watermark(), in_batch=in_batch)

    async def _wake_idle(self) -> None:
        """Before closing past an idle source, check with the broker that it is still empty.

        Stage 1 marks an input partition idle while it is empty. When records land on it
        (a publish starting, a first liquidation) the member owning another partition may
        send its summary before this one's stage 1 sent any: closing on the others alone
        would make this partition's first rows late. The records of one publish reach the
        broker together, long before a summary of them reaches this stage, so asking the
        broker closes that race. Asked only when a close would pass an idle source; an
        unanswered question leaves the marks as they are.
        """
        merger = self.merger
        first_open = merger.watermark()
        closed = self.engine.closed_sec
        idle = merger.idle & merger.expected  # input partitions (margin ones hold nothing)
        if not idle or first_open is None or (closed is not None and first_open <= closed):
            return
        tps = {s: _partition(s) for s in idle}
        ends = await self.sub.end_offsets(list(tps.values()))
        if ends is None:
            return
        woken = [s for s, tp in tps.items() if ends.get(tp, 0) > 0]
        if woken:
            log.info("cross stage: %s got records; waiting for their summaries", woken)
            merger.wake(woken)

    async def _close_to(self, first_open: int | None, *, in_batch: bool = False) -> None:
        """Close the seconds below `first_open`, `_CLOSE_STEP_S` at a time; emit the alerts.

        Between steps the event loop runs (heartbeats, fetches, HTTP); the alerts are those
        of one call, which do not depend on how many seconds a call closes. `in_batch` (a
        batch of `_consume`): stop at once when a rebalance waits for the batch. A batch
        that closes days (a rebuild) would hold the rebalance past its timeout: the group
        would drop this member while its batch went on publishing alerts that the next
        owner, having read the alerts topic before, publishes again. The stage rebuilds
        after every rebalance, so what is left open is closed by the next owner.
        """
        while first_open is not None and (
            self.engine.closed_sec is None or self.engine.closed_sec < first_open
        ):
            if in_batch and self.sub.revoking:
                return
            await self._emit(self.merger.close_step(first_open, _CLOSE_STEP_S))
            await asyncio.sleep(0)

    async def flush(self) -> None:
        """Close every second (end of a replay) and publish what that causes.

        Waits for the batch in progress first.
        """
        async with self._batch:
            await self._advance()
            await self._close_to(self.merger.end_of_data())
            await self._emit(self.merger.flush())


def _partition(source: str) -> TopicPartition:
    """Return the partition of a summary source id ``"<topic>:<partition>"``."""
    topic, _, partition = source.rpartition(":")
    return TopicPartition(topic, int(partition))


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Return True when `consumer` has read every partition of `ends` to its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
