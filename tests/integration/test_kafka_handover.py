"""Partitions handed to a new member that the previous one read and committed to their end.

Such a partition gives the new member no record, so it learns where it reads from the
consumer (`BucketStage._adopt`). Before, it had no position: a margin partition looked
behind for ever, and its hold (at the start of time) froze the cross stage's merge, so no
second closed and no alert came (seen in the two-aggregate parity test, whenever the first
member had committed the margin topic before the second joined); and live, a quiet input
partition sent no summary, so the merge stayed at the previous owner's last one until a
record came.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import physical_topic
from monitor.config import KafkaSettings
from monitor.events import NS, TOPIC_MARGIN, Event, MarginChange, event_time_ns
from monitor.io.jsonl import read_events
from monitor.runtime.kafka.roles import KafkaHandle
from monitor.synth import liquidations
from tests.support.kafka_pair import (
    aggregator,
    describe,
    owns_cross,
    role_settings,
    unfinished,
    wait_for,
    with_state_dir,
)

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


def gold_hike(ts_ns: int) -> MarginChange:
    return MarginChange(
        venue="cme", product="GC", asset="XAU", asset_class="metal", basis="pct_notional",
        old=8.0, new=9.0, tightening=0.125, notice_ts_ns=ts_ns, effective_ts_ns=ts_ns,
        source="test", event_id="gc-hike",
    )  # fmt: skip


async def test_a_margin_partition_read_to_its_end_holds_nothing_for_the_next_member(
    burst_file: Path, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange: a member read a margin change and half the recording, committed, and stopped
    settings = with_state_dir(role_settings(kafka_settings), tmp_path / "state")
    events: list[Event] = list(read_events(burst_file))
    start = event_time_ns(events[0])
    cut = next(i for i, e in enumerate(events) if event_time_ns(e) >= start + 3_600 * NS)
    margin = (physical_topic(kafka_settings, TOPIC_MARGIN), 0)
    async with asyncio.timeout(240), KafkaBus(kafka_settings) as feeder:
        await feeder.publish([gold_hike(start + 60 * NS), *events[:cut]], timeout_s=None)
        assert await feeder.flush(30)
        ends = dict(feeder.end_offsets)
        async with aggregator(settings, "gh") as first:
            await wait_for(lambda: owns_cross(first), 60)
            await wait_for(lambda: first.bucket.positions.get(margin, 0) >= ends[margin], 60)  # type: ignore[union-attr]
            while margin in await unfinished(settings, "gh", {margin: ends[margin]}):  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # the change is forwarded and its offset committed
        # Act: the rest of the recording, read by the next member of the group
        await feeder.publish(events[cut:], timeout_s=None)
        assert await feeder.flush(30)
        last_s = event_time_ns(events[-1]) // NS
        async with aggregator(settings, "gh") as second:
            # Assert: its cross stage closes up to the recording's last minute
            await wait_for(
                lambda: (second.cross.engine.closed_sec or 0) >= last_s - 60,  # type: ignore[union-attr]
                120,
                lambda: "want %d closed; %s" % (last_s - 60, describe([second])),
            )
            assert second.bucket is not None
            assert second.bucket.positions[margin] == ends[margin]


def closed(handle: KafkaHandle) -> int:
    assert handle.cross is not None
    return handle.cross.engine.closed_sec or 0


async def test_quiet_partitions_handed_over_live_close_by_the_wall_clock(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange: a live member read 20 s of liquidations up to now, committed, and stopped
    settings = with_state_dir(role_settings(kafka_settings), tmp_path / "state")
    now_ns = time.time_ns()
    events = list(liquidations(start_ns=now_ns - 20 * NS, duration_s=20, rate_per_s=50))
    async with asyncio.timeout(120), KafkaBus(kafka_settings) as feeder:
        await feeder.publish(events, timeout_s=None)
        assert await feeder.flush(30)
        ends = dict(feeder.end_offsets)
        assert len(ends) == 2  # both liquidation partitions hold records
        async with aggregator(settings, "gq", live=True) as first:
            await wait_for(lambda: closed(first) >= now_ns // NS, 60, lambda: describe([first]))
            while await unfinished(settings, "gq", ends):  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # every record's second published and committed
        # Act: the next member gets the partitions, and no record comes any more
        async with aggregator(settings, "gq", live=True) as second:
            started_s = time.time_ns() // NS
            # Assert: its cross stage closes the seconds after its start by the clock
            await wait_for(
                lambda: closed(second) >= started_s + 3,
                30,
                lambda: "want %d closed; %s" % (started_s + 3, describe([second])),
            )
