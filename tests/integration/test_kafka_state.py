"""The Kafka aggregate keeps its state file: a restarted process restores its cross stage's
engine and reads the windows topic on from where it stopped, instead of rebuilding from the
topic's start, and the alerts on the topic are still exactly the memory replay's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import physical_topic
from monitor.config import KafkaSettings
from monitor.events import TOPIC_WINDOWS, Event
from monitor.io.jsonl import read_events
from tests.integration.test_kafka_roles import aggregator, drain, memory_alerts, topic_alerts
from tests.support.kafka_pair import owns_cross, role_settings, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def test_a_restarted_aggregate_resumes_from_its_state_file(
    burst_file: Path, kafka_settings: KafkaSettings
) -> None:
    # Arrange: an aggregate process read the first part of the recording, then stopped
    settings = role_settings(kafka_settings)
    reference = await memory_alerts(burst_file, settings)
    events: list[Event] = list(read_events(burst_file))
    cut = next(
        i for i, e in enumerate(events) if e.ts_event_ns >= events[0].ts_event_ns + 5_700 * 10**9
    )  # type: ignore[union-attr]
    windows = (physical_topic(kafka_settings, TOPIC_WINDOWS), 0)
    async with asyncio.timeout(120):
        async with KafkaBus(kafka_settings) as feeder:
            await feeder.publish(events[:cut], timeout_s=None)
            assert await feeder.flush(30)
            ends = dict(feeder.end_offsets)
            async with aggregator(settings, "gs") as first:
                await wait_for(lambda: owns_cross(first), 30)
                await wait_for(
                    lambda: all(first.bucket.positions.get(tp, 0) >= e for tp, e in ends.items()),
                    30,
                )
                await asyncio.sleep(1.0)  # the last summaries reach the cross stage
                written = first.bus.end_offsets.get(windows, 0)
                await wait_for(lambda: first.cross.position >= written, 30)
            assert first.cross.state is not None
            saved_at = first.cross.position
            assert first.cross.state.saves >= 1  # saved at the clean stop
            # Act: the rest of the recording, read by a new process of the same group
            await feeder.publish(events[cut:], timeout_s=None)
            assert await feeder.flush(30)
            async with aggregator(settings, "gs") as second:
                await wait_for(lambda: owns_cross(second), 30)
                resumed_at = second.cross.state.restored_position if second.cross.state else None
                await drain([second], dict(feeder.end_offsets), kafka_settings)
        on_topic = await topic_alerts(kafka_settings)
    # Assert: resumed where the first stopped, and the alerts are the memory replay's
    assert saved_at > 0
    assert resumed_at == saved_at
    assert on_topic == reference
