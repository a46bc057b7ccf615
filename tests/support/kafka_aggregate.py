"""An aggregate process for tests: `run_kafka`'s aggregate role, in a process of its own.

``python -m tests.support.kafka_aggregate CONFIG GROUP REPORT`` runs what ``liqmon
aggregate --config CONFIG --group GROUP`` runs (both stages, the state file under
``state.dir``, saved every ``state.save_interval_s``), with one difference: seconds close by
event time only (``live=False``), as in a replay, so a recording of the past goes through at
full speed and two runs on the same input are exactly comparable. (``liqmon aggregate``
closes idle seconds by the wall clock, which would drop a past recording as late.)

Signals (handled once REPORT's ``.ready`` sibling exists): SIGUSR1 reads the input topics
to their current end, closes every second (`drain_to_end`) and stops cleanly; SIGTERM stops
cleanly at once; SIGKILL is a crash. A clean stop saves the state file and writes REPORT
(msgpack): ``restored_position``, the windows offset the cross stage resumed from (None:
it rebuilt from the topic's start); after a drain, ``engine``, the cross stage's engine
snapshot (`EngineSnapshot`), and ``alerts``, the transitions this process published.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import TopicPartition

from monitor import config
from monitor.bus.kafka.common import partitions_of, physical_topic
from monitor.config import Settings
from monitor.events import TOPIC_LIQUIDATIONS, TOPIC_TICKS
from monitor.runtime.kafka.replay_end import drain_to_end
from monitor.runtime.kafka.roles import KafkaHandle
from monitor.state.engine import EngineSnapshot
from tests.support.kafka_pair import aggregator


async def input_ends(handle: KafkaHandle) -> dict[tuple[str, int], int]:
    """Return the end offset of every input partition now (what a drain reads up to)."""
    bucket = handle.bucket
    assert bucket is not None
    async with asyncio.timeout(60):  # the stage's consumer starts and joins its group
        while not bucket.sub.assignment():  # noqa: ASYNC110  (the stage task's state)
            await asyncio.sleep(0.05)
    kafka = handle.settings.bus.kafka
    ends: dict[tuple[str, int], int] = {}
    for topic in (TOPIC_LIQUIDATIONS, TOPIC_TICKS):
        name = physical_topic(kafka, topic)
        for part in range(partitions_of(kafka, topic)):
            ends[(name, part)] = (await bucket.sub.kept(TopicPartition(name, part)))[1]
    return ends


async def aggregate(settings: Settings, group: str, ready: Path) -> dict[str, Any]:
    """Run until SIGTERM, or SIGUSR1 (drain first); return the report (`main`).

    `ready` is created once the signals are handled (before, SIGUSR1 would kill).
    """
    drain, stop = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, drain.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.to_thread(ready.touch)
    async with aggregator(settings, group) as handle:
        waits = [asyncio.create_task(e.wait()) for e in (drain, stop)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        engine = None
        if drain.is_set():
            await drain_to_end([handle], await input_ends(handle), timeout_s=120)
            assert handle.cross is not None
            engine = EngineSnapshot(handle.cross.engine).snapshot()  # nothing more comes
    state = handle.cross.state if handle.cross is not None else None
    return {
        "restored_position": state.restored_position if state is not None else None,
        "engine": engine,
        "alerts": handle.alerts,
    }


def main(argv: list[str]) -> None:
    """Entry point: CONFIG GROUP REPORT."""
    path, group, report = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ready = Path(report).with_suffix(".ready")
    done = asyncio.run(aggregate(config.load(Path(path)), group, ready))
    Path(report).write_bytes(msgspec.msgpack.encode(done))


if __name__ == "__main__":
    main(sys.argv[1:])
