"""The end of a replay over Kafka (``liqmon replay --bus kafka``).

Waits until every record published is processed, then closes every second, so the alerts
are the memory replay's. Called by `monitor.cli_replay` once the replay's sources are done;
each wait fails only when nothing moved for its bound (a loaded machine is slow, not stuck).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from monitor.bus.kafka.common import physical_topic
from monitor.errors import BusError
from monitor.events import TOPIC_LIQUIDATIONS, TOPIC_MARGIN, TOPIC_TICKS, TOPIC_WINDOWS
from monitor.runtime.kafka.cross import CrossStage
from monitor.runtime.kafka.roles import PUBLISHER, KafkaHandle


async def _until(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    progress: Callable[[], object] | None = None,
) -> None:
    """Wait until `predicate()`; fail after `timeout_s` without it or a change of `progress()`.

    A loaded machine is slow, not stuck: each change of `progress()` restarts the bound.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    seen = progress() if progress is not None else None
    while not predicate():
        if loop.time() > deadline:
            msg = "kafka: %s did not happen within %.0f s" % (what, timeout_s)
            raise BusError(msg)
        await asyncio.sleep(0.05)
        now = progress() if progress is not None else None
        if now != seen:
            seen, deadline = now, loop.time() + timeout_s


async def published_ends(handle: KafkaHandle) -> dict[tuple[str, int], int]:
    """End of ingest (a replay): wait until the sources are done and every event is stored.

    Returns the acknowledged end offset of every partition the handle's bus wrote to.

    Raises:
        BusError: the buffer did not drain or the producer did not flush in time.
    """
    k = handle.settings.bus.kafka
    await handle.sources_done.wait()
    handle.buffer.close()
    # an empty buffer is not enough: the publisher's last take may not be in the producer yet
    done = [t for t in handle.tasks if t.get_name() == PUBLISHER]
    await _until(
        lambda: all(t.done() for t in done),
        k.close_timeout_ms / 1000 + 60,
        "ingest",
        handle.buffer.depth,
    )
    if not await handle.bus.flush(k.close_timeout_ms / 1000):
        msg = "kafka: %d sends unacknowledged at the end of ingest" % handle.bus.depth()
        raise BusError(msg)
    return dict(handle.bus.end_offsets)


async def drain_to_end(
    handles: Sequence[KafkaHandle], ends: dict[tuple[str, int], int], timeout_s: float = 60.0
) -> None:
    """End of a replay over Kafka: process every record up to `ends`, then close every second.

    Waits until the bucket stages of `handles` (one consumer group) consumed the input
    partitions (margin changes too) up to `ends`, flushes their open seconds (once the
    batch in progress is published), waits until the active cross stage read every
    summary, and flushes it: the alerts are then those of the memory replay.

    Raises:
        BusError: a step made no progress for `timeout_s`.
    """
    kafka = handles[0].settings.bus.kafka
    inputs = {physical_topic(kafka, t) for t in (TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_MARGIN)}
    targets = {tp: end for tp, end in ends.items() if tp[0] in inputs}
    buckets = [h.bucket for h in handles if h.bucket is not None]

    def consumed() -> bool:
        done: dict[tuple[str, int], int] = {}
        for bucket in buckets:
            for tp, pos in bucket.positions.items():
                done[tp] = max(done.get(tp, 0), pos)
        return all(done.get(tp, 0) >= end for tp, end in targets.items())

    def positions() -> list[dict[tuple[str, int], int]]:
        return [dict(b.positions) for b in buckets]

    await _until(consumed, timeout_s, "consuming the input topics", positions)
    for bucket in buckets:
        await bucket.flush()
    windows = physical_topic(kafka, TOPIC_WINDOWS)
    end = max(h.bus.end_offsets.get((windows, 0), 0) for h in handles)
    crosses = [h.cross for h in handles if h.cross is not None]

    def owners() -> list[CrossStage]:
        # `active` is set when a stage rebuilt on gaining the partition and cleared only at
        # its next batch after losing it: the owner is active and holds the partition now
        return [c for c in crosses if c.active and c.sub.assignment()]

    await _until(lambda: len(owners()) == 1, timeout_s, "a cross stage")
    cross = owners()[0]
    await _until(
        lambda: cross.position >= end,
        timeout_s,
        "reading the windows topic",
        lambda: (cross.position, cross.engine.closed_sec),
    )
    await cross.flush()
