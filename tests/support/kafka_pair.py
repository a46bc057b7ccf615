"""Two ``aggregate`` processes in one consumer group, one of them killed mid-run.

`kill_one_of_two` publishes the first part of a recording to the input topics, starts two
aggregate roles in this process (`run_kafka(ingest=False)`, each with a state directory of
its own, as on two machines), waits until both hold input partitions, every record
published so far is consumed and the one running the cross stage has closed a good part of
it, kills that one (`KafkaHandle.kill`: nothing more committed or saved), publishes the
rest, lets the survivor take every partition and drain to the end, and returns what is on
the alerts topic: what downstream consumers saw.

Seconds close by event time only (``live=False``), so a recording of the past goes through
at full speed; an input partition that is empty once caught up is marked idle
(``run_kafka(idle_empty=True)``, as `tests.support.kafka_aggregate`), so the cross stage
merges while the input flows instead of only at the end (a recording of ticks alone leaves
the liquidation partitions empty).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor import config
from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import partitions_of
from monitor.config import KafkaSettings, Settings
from monitor.events import (
    NS,
    TOPIC_ALERTS,
    TOPIC_LIQUIDATIONS,
    TOPIC_MARGIN,
    TOPIC_TICKS,
    Alert,
    Event,
    event_time_ns,
)
from monitor.runtime.kafka.replay_end import drain_to_end
from monitor.runtime.kafka.roles import KafkaHandle, run_kafka
from tests.support.kafka_read import read_topic

_CHUNK = 5_000  # events per publish of the feeder


@dataclass(frozen=True)
class KillRun:
    """The outcome of `kill_one_of_two`."""

    alerts: list[Alert]  # the alerts topic, in order
    killed_at_s: int  # the first second the killed cross stage had not closed
    cut_ns: int  # event time of the first event published after the kill
    survivor_partitions: int  # input partitions the survivor held at the end


def role_settings(kafka: KafkaSettings) -> Settings:
    """Return the default settings on the Kafka bus `kafka`."""
    base = config.load(None, env={})
    return msgspec.structs.replace(
        base, bus=msgspec.structs.replace(base.bus, kind="kafka", kafka=kafka)
    )


def with_state_dir(settings: Settings, directory: Path) -> Settings:
    """Return `settings` keeping state files in `directory`."""
    state = msgspec.structs.replace(settings.state, dir=str(directory))
    return msgspec.structs.replace(settings, state=state)


@contextlib.asynccontextmanager
async def aggregator(
    settings: Settings, group: str, *, live: bool = False
) -> AsyncIterator[KafkaHandle]:
    """Run one aggregate role on event time (see module), or `live` as deployed (seconds
    close by the wall clock too); yield its handle. Empty partitions are marked idle."""
    async with run_kafka(
        settings,
        ingest=False,
        group=group,
        live=live,
        serve_http=False,
        log_alerts=False,
        idle_empty=True,
    ) as handle:
        yield handle


async def wait_for(
    predicate: Callable[[], object], timeout_s: float, seen: Callable[[], str] | None = None
) -> None:
    """Wait until `predicate()` is true; fail after `timeout_s`, saying what `seen` returns."""
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():  # noqa: ASYNC110  (other tasks' state)
                await asyncio.sleep(0.05)
    except TimeoutError:
        if seen is None:
            raise
        raise AssertionError("timed out after %.0f s: %s" % (timeout_s, seen())) from None


def describe(pair: Sequence[KafkaHandle]) -> str:
    """Return what each member's stages hold: for a timed-out wait's message."""
    out = []
    for n, h in enumerate(pair):
        bucket, cross = h.bucket, h.cross
        assert bucket is not None
        assert cross is not None
        merger = cross.merger
        out.append(
            "member %d: stage 1 holds %s at %s, closed %s; cross stage active %s, "
            "assignment %s, assignments %d/%d, closed second %s, sources closed_before %s, "
            "idle %s"
            % (
                n,
                sorted("%s:%d" % (tp.topic, tp.partition) for tp in bucket.sub.assignment()),
                bucket.positions,
                {
                    "%s:%d" % (tp.topic, tp.partition): p.first_open()
                    for tp, p in bucket.parts.items()
                },
                cross.active,
                sorted(str(tp.partition) for tp in cross.sub.assignment()),
                cross.assignments_seen,
                cross.sub.rebalances,
                cross.engine.closed_sec,
                merger.closed_before,
                sorted(merger.idle),
            )
        )
    return "; ".join(out)


def owns_cross(handle: KafkaHandle) -> bool:
    """True when `handle` runs the cross stage now (rebuilt, and holds the windows topic)."""
    cross = handle.cross
    return cross is not None and cross.active and bool(cross.sub.assignment())


def cross_owner(pair: Sequence[KafkaHandle]) -> KafkaHandle | None:
    """Return the one member of `pair` running the cross stage, or None while unsettled.

    Settled: both members joined the cross stage's group and each acted on its latest
    assignment. The second member joins that group a little later than the first, so the
    first owner may lose the windows partition to it: chosen before, the "owner" killed
    would be one that runs nothing.
    """
    crosses = [h.cross for h in pair]
    if any(
        c is None or c.sub.rebalances == 0 or c.assignments_seen != c.sub.rebalances
        for c in crosses
    ):
        return None
    owners = [h for h in pair if owns_cross(h)]
    return owners[0] if len(owners) == 1 else None


def closed_s(handle: KafkaHandle) -> int:
    """Return the first second `handle`'s cross stage has not closed (0: none closed)."""
    assert handle.cross is not None
    return handle.cross.engine.closed_sec or 0


async def publish(feeder: KafkaBus, events: Sequence[Event]) -> None:
    """Publish `events` to the input topics and wait until the broker acknowledged them."""
    for i in range(0, len(events), _CHUNK):
        await feeder.publish(events[i : i + _CHUNK], timeout_s=None)
    assert await feeder.flush(60)


def input_partitions(settings: Settings) -> int:
    """Return how many input partitions (liquidations, ticks, margin) the topics have."""
    k = settings.bus.kafka
    return sum(partitions_of(k, t) for t in (TOPIC_LIQUIDATIONS, TOPIC_TICKS, TOPIC_MARGIN))


async def unfinished(
    settings: Settings, group: str, ends: dict[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Return the partitions of `ends` whose records `group` has not all committed.

    `drain_to_end` counts a partition consumed once a stage it is given read it to its end;
    one the killed member read and committed to its end gives the survivor nothing to read
    (a margin partition whose changes all came before the kill), so it is left out.
    """
    consumer = AIOKafkaConsumer(
        group_id=group,
        enable_auto_commit=False,
        bootstrap_servers=settings.bus.kafka.bootstrap_servers,
    )
    await consumer.start()
    try:
        done = {tp: await consumer.committed(TopicPartition(*tp)) or 0 for tp in ends}
    finally:
        await consumer.stop()
    return {tp: end for tp, end in ends.items() if done[tp] < end}


async def kill_one_of_two(
    events: Sequence[Event],
    settings: Settings,
    state_dirs: tuple[Path, Path],
    group: str,
    *,
    share: float = 0.5,
    step_timeout_s: float = 120.0,
) -> KillRun:
    """Run `events` through two aggregates, killing the cross stage's owner (see module).

    `share` of the recording's event time is published before the kill; the owner has
    closed at least three quarters of that part when it is killed. Each wait fails after
    `step_timeout_s`.
    """
    first, last = event_time_ns(events[0]), event_time_ns(events[-1])
    cut = next(
        i for i, e in enumerate(events) if event_time_ns(e) >= first + share * (last - first)
    )
    progress_s = event_time_ns(events[cut * 3 // 4]) // NS
    a_settings, b_settings = (with_state_dir(settings, d) for d in state_dirs)
    kafka = settings.bus.kafka
    async with KafkaBus(kafka) as feeder:
        await publish(feeder, events[:cut])
        ends = dict(feeder.end_offsets)
        async with aggregator(a_settings, group) as a, aggregator(b_settings, group) as b:
            pair = (a, b)
            await wait_for(lambda: all(h.bucket and h.bucket.sub.assignment() for h in pair), 60)

            def consumed() -> bool:
                held = [h.bucket.positions for h in pair if h.bucket is not None]
                return all(any(p.get(tp, 0) >= end for p in held) for tp, end in ends.items())

            await wait_for(consumed, step_timeout_s, lambda: describe(pair))
            await wait_for(
                lambda: (o := cross_owner(pair)) and closed_s(o) >= progress_s,
                step_timeout_s,
                lambda: "want %d closed; %s" % (progress_s, describe(pair)),
            )
            victim = cross_owner(pair)
            assert victim is not None
            survivor = b if victim is a else a
            killed_at_s = closed_s(victim)
            await victim.kill()  # the member running the cross stage, mid-run
            await publish(feeder, events[cut:])
            assert survivor.bucket is not None
            want = input_partitions(settings)
            await wait_for(
                lambda: len(survivor.bucket.sub.assignment()) == want,  # type: ignore[union-attr]
                step_timeout_s,
                lambda: describe(pair),
            )
            todo = await unfinished(settings, group, dict(feeder.end_offsets))
            await drain_to_end([survivor], todo, timeout_s=step_timeout_s)
            held = len(survivor.bucket.sub.assignment())
    on_topic = [e for e in await read_topic(kafka, TOPIC_ALERTS) if isinstance(e, Alert)]
    return KillRun(on_topic, killed_at_s, event_time_ns(events[cut]), held)
