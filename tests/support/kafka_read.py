"""Read a whole liqmon topic back from a real broker (what a downstream consumer sees)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.bus.kafka.common import partitions_of, physical_topic
from monitor.codec import decode
from monitor.config import KafkaSettings
from monitor.events import Event


async def read_topic(kafka: KafkaSettings, topic: str, timeout_s: float = 20.0) -> list[Event]:
    """Return every record of the logical `topic` (all partitions, first to current end).

    Records are in partition order, partition by partition; duplicates are kept.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, fetch_max_wait_ms=10)
    name = physical_topic(kafka, topic)
    tps = [TopicPartition(name, p) for p in range(partitions_of(kafka, topic))]
    out: dict[int, list[Event]] = {tp.partition: [] for tp in tps}
    async with asyncio.timeout(timeout_s):
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while any([await consumer.position(tp) < end for tp, end in ends.items()]):
                for tp, messages in (await consumer.getmany(timeout_ms=200)).items():
                    out[tp.partition] += [decode(m.value) for m in messages]
        finally:
            await consumer.stop()
    return [e for p in sorted(out) for e in out[p]]
