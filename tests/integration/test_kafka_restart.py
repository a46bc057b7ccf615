"""An aggregate process SIGKILLed in a firing cascade and started again (issue 14, Kafka).

The aggregate runs as a process of its own (`tests.support.kafka_aggregate`: the aggregate
role of ``liqmon aggregate``, closing seconds by event time) on the two-hour burst
recording, its state saved every second. The recording's first 88 minutes are on the
input topics at start, the rest (with the 01:30 burst) comes as a feed while it runs. Just
after a save holding the firing cascade, while summaries it wrote after that save are still
unread, it is killed (no shutdown, no final save), then started again with the same
configuration and group once the feed is done. A second process reads the whole recording
without a stop, on topics of its own. The alerts topics of both must be the same
transitions (ids, states, times, waves): the cascade's id goes on firing, no resolve and no
new incident come from the restart. And the restarted cross stage's engine, taken once
both read the whole recording, must be the never-stopped one's (`canonical`, `differences`):
windows, burst baselines, CUSUM, event rate, tails, prices, alert book.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from monitor.bus.kafka.bus import KafkaBus
from monitor.bus.kafka.common import physical_topic
from monitor.codec import decode
from monitor.config import KafkaSettings
from monitor.events import TOPIC_ALERTS, TOPIC_WINDOWS, Alert, Event
from monitor.io.jsonl import read_events
from monitor.runtime.kafka.cross_state import CrossState
from monitor.state.settings import StateSettings
from monitor.state.snapshot import unpack_array
from monitor.state.store import StateStore
from tests.integration.conftest import settings_for

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

GROUP = "g-restart"
GUARD_S = 120.0
FEED_FROM_S = 5_300  # the recording's first 88 minutes are on the topic at start; the rest,
# with the 01:30 burst, comes as a feed while the aggregate runs


class Aggregate:
    """One aggregate configuration (topics, state directory) and its process."""

    def __init__(self, workdir: Path, bootstrap: str) -> None:
        workdir.mkdir()
        self.workdir = workdir
        self.kafka = settings_for(bootstrap)
        self.state = StateSettings(dir=str(workdir / "state"), save_interval_s=1.0)
        self.config = workdir / "liqmon.yaml"
        doc = {
            "bus": {"kind": "kafka", "kafka": msgspec.to_builtins(self.kafka)},
            "state": {"dir": self.state.dir, "save_interval_s": self.state.save_interval_s},
        }
        self.config.write_text(yaml.safe_dump(doc))
        windows = physical_topic(self.kafka, TOPIC_WINDOWS)
        self.store = StateStore(Path(self.state.dir), CrossState(self.state, windows, GROUP).role)
        self.report = workdir / "report.msgpack"
        self.ready = self.report.with_suffix(".ready")
        self.log = workdir / "aggregate.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.ready.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
        argv = [sys.executable, "-m", "tests.support.kafka_aggregate"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*argv, str(self.config), GROUP, str(self.report)],
                stdout=out, stderr=out, env=env, cwd=Path(__file__).parents[2],
            )  # fmt: skip

    async def started(self) -> None:
        """Wait until the process handles its signals."""
        async with asyncio.timeout(GUARD_S):
            while not self.ready.exists():
                assert self.proc is not None
                assert self.proc.poll() is None, self.tail()
                await asyncio.sleep(0.1)

    async def stop(self, sig: signal.Signals) -> int:
        """Send `sig`; return the exit code (bounded)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = await asyncio.to_thread(self.proc.wait, GUARD_S)
        self.proc = None
        return code

    def saved_engine(self) -> dict[str, Any]:
        """Return the engine snapshot in the state file."""
        doc = self.store.read()
        assert doc is not None, self.tail()
        engine: dict[str, Any] = doc["parts"]["cross"]["engine"]
        return engine

    def done(self) -> dict[str, Any]:
        """Return the report of the last clean stop."""
        report: dict[str, Any] = msgspec.msgpack.decode(self.report.read_bytes())
        return report

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


async def publish(kafka: KafkaSettings, events: list[Event]) -> None:
    async with KafkaBus(kafka) as bus:
        for i in range(0, len(events), 5_000):
            await bus.publish(events[i : i + 5_000], timeout_s=None)
        assert await bus.flush(30)


async def feed(kafka: KafkaSettings, events: list[Event]) -> None:
    """Publish `events` in small steps, as a live feed would (~3,000 events a second)."""
    async with KafkaBus(kafka) as bus:
        for i in range(0, len(events), 300):
            await bus.publish(events[i : i + 300], timeout_s=None)
            await asyncio.sleep(0.1)
        assert await bus.flush(30)


async def kill_in_cascade(agg: Aggregate) -> tuple[dict[str, Any], int, int]:
    """SIGKILL `agg` just after a save holding a firing cascade, with summaries unread.

    Waits for such a save after which the stage 1 wrote more to the windows topic than the
    save holds, well before the next save is due. Returns the firing track, the saved
    windows position and the windows topic's end at the kill.
    """
    last = 0
    async with asyncio.timeout(GUARD_S):
        while True:
            assert agg.proc is not None
            assert agg.proc.poll() is None, agg.tail()
            mtime = agg.store.path.stat().st_mtime_ns if agg.store.path.exists() else 0
            doc = agg.store.read() if mtime != last else None
            last = mtime
            if doc is None:
                await asyncio.sleep(0.02)
                continue
            cross = doc["parts"]["cross"]
            book = cross["engine"]["book"]
            firing = [t for t in book if t["kind"] == "cascade" and t["state"] == "firing"]
            await asyncio.sleep(0.3)  # < save_interval_s: the stages go on, nothing is saved
            written = await windows_end(agg.kafka)
            if firing and written > cross["position"] and agg.store.path.stat().st_mtime_ns == last:
                assert await agg.stop(signal.SIGKILL) == -signal.SIGKILL
                return dict(firing[0]), int(cross["position"]), written


async def windows_end(kafka: KafkaSettings) -> int:
    """Return the end offset of the windows topic (what the stage 1s have written)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    tp = TopicPartition(physical_topic(kafka, TOPIC_WINDOWS), 0)
    async with asyncio.timeout(20):
        await consumer.start()
        try:
            end: int = (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()
    return end


async def topic_alerts(kafka: KafkaSettings) -> list[Alert]:
    """Return every alert on the alerts topic, in topic order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    tp = TopicPartition(physical_topic(kafka, TOPIC_ALERTS), 0)
    out: list[Alert] = []
    async with asyncio.timeout(20):
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    out += [e for m in messages if isinstance(e := decode(m.value), Alert)]
        finally:
            await consumer.stop()
    return out


def canonical(engine: dict[str, Any]) -> dict[str, Any]:
    """Return an engine snapshot with everything in a run-independent order, bit-exact.

    Scope ids are given in the order scopes are first seen, which depends on which
    partition's summary came first: every per-scope array (windows, burst baselines, CUSUM,
    event rate, tails) is put in scope-name order, and the window log's ids renamed to
    match. Lists that are mappings (alert book, instruments, scopes in a cascade, the gap
    detector's streams) are sorted by their key. Arrays stay numpy arrays (`differences`).

    Left out: the gap detector's decaying history of each stream (its start and length),
    which halves at the end of the micro-batch that passed 1,000 events, so it depends on
    how summaries were batched (found here: one event apart after a restart); each stream's
    newest event and count are kept.
    """
    names = list(zip(engine["scopes"]["levels"], engine["scopes"]["keys"], strict=True))
    order = sorted(range(len(names)), key=names.__getitem__)
    new_id = np.empty(len(names), dtype=np.int64)
    new_id[order] = np.arange(len(names))

    def by_scope(packed: dict[str, Any]) -> npt.NDArray[Any]:
        array = unpack_array(packed)
        array[: len(names)] = array[order]
        return array

    def each(parts: dict[str, Any]) -> dict[str, Any]:
        return {
            k: [by_scope(p) for p in v] if isinstance(v, list) else by_scope(v)
            for k, v in parts.items()
            if isinstance(v, dict | list)
        } | {k: v for k, v in parts.items() if not isinstance(v, dict | list)}

    def log_row(sec: int, ids: dict[str, Any], values: dict[str, Any]) -> list[Any]:
        renamed = new_id[unpack_array(ids)]
        rank = np.argsort(renamed)
        return [sec, renamed[rank], unpack_array(values)[rank]]

    liq = engine["liq"]
    gaps = engine["plugins"]["gaps"]
    streams = gaps["streams"]
    return {
        **engine,
        "scopes": sorted(names),
        "liq": {
            **liq,
            "sums": by_scope(liq["sums"]),
            "log": [log_row(*row) for row in liq["log"]],
        },
        "bursts": each(engine["bursts"]),
        "book": sorted(engine["book"], key=lambda t: (t["kind"], t["scope"])),
        "prices": sorted(engine["prices"], key=lambda p: p["key"]),
        "spread": {
            **engine["spread"],
            "entered": sorted(engine["spread"]["entered"], key=lambda e: e["scope"]),
        },
        "plugins": {
            "bursts.tail": each(engine["plugins"]["bursts.tail"]),
            "gaps": {
                "streams": sorted([ex, st, last, seen] for ex, st, _, last, _, seen in streams),
                **{
                    k: sorted(v, key=lambda row: row[:2]) for k, v in gaps.items() if k != "streams"
                },
            },
        },
    }


def differences(got: object, want: object, path: str = "engine") -> list[str]:
    """Return the paths where two `canonical` snapshots differ.

    Arrays must have the same dtype and shape and equal values to 1e-12 relative: sums over
    the scopes of a level (market, class) are added in scope-id order, so their last bit
    depends on it; a summary missed or counted twice moves them by far more.
    """
    if isinstance(got, np.ndarray) and isinstance(want, np.ndarray):
        same = got.dtype == want.dtype and got.shape == want.shape
        if same and got.dtype.kind == "f":
            same = bool(np.allclose(got, want, rtol=1e-12, atol=0, equal_nan=True))
        elif same:
            same = bool(np.array_equal(got, want))
        return [] if same else [path]
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            return [path]
        return [d for k in got for d in differences(got[k], want[k], "%s.%s" % (path, k))]
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return [path]
        pairs = zip(got, want, strict=True)
        return [
            d for i, (g, w) in enumerate(pairs) for d in differences(g, w, "%s[%d]" % (path, i))
        ]
    return [] if got == want else [path]


def transitions(alerts: list[Alert]) -> list[tuple[str, str, str, str, int, int]]:
    return sorted((a.alert_id, a.kind, a.scope, a.state, a.ts_ns, a.wave) for a in alerts)


async def test_sigkill_of_aggregate_in_a_firing_cascade_changes_neither_alerts_nor_baselines(
    burst_file: Path, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Arrange: the recording on the topics of both runs; the killed run's comes as a feed
    events: list[Event] = list(read_events(burst_file))
    t0 = events[0].ts_event_ns  # type: ignore[union-attr]
    live = next(i for i, e in enumerate(events) if e.ts_event_ns >= t0 + FEED_FROM_S * 10**9)  # type: ignore[union-attr]
    killed = Aggregate(tmp_path / "killed", kafka_bootstrap)
    steady = Aggregate(tmp_path / "steady", kafka_bootstrap)
    try:
        async with asyncio.timeout(4 * GUARD_S):
            await publish(steady.kafka, events)
            await publish(killed.kafka, events[:live])
            # the run that is never stopped
            steady.start()
            await steady.started()
            assert await steady.stop(signal.SIGUSR1) == 0, steady.tail()
            # Act: the run killed in the burst while it reads the feed, then started again
            killed.start()
            feeder = asyncio.create_task(feed(killed.kafka, events[live:]))
            track, saved_at, written = await kill_in_cascade(killed)
            at_kill = killed.saved_engine()
            sent_before = await topic_alerts(killed.kafka)
            await feeder
            killed.start()
            await killed.started()
            assert await killed.stop(signal.SIGUSR1) == 0, killed.tail()
            restarted, reference_run = killed.done(), steady.done()
            alerts = await topic_alerts(killed.kafka)
            reference = await topic_alerts(steady.kafka)
    finally:
        for agg in (killed, steady):
            if agg.proc is not None:
                agg.proc.kill()
                agg.proc.wait(GUARD_S)
    # Assert: the restart resumed from the state file saved in the cascade
    assert restarted["restored_position"] == saved_at
    assert saved_at < written  # killed with summaries it wrote and had not read
    assert [t["alert_id"] for t in at_kill["book"] if t["state"] == "firing"]
    ours = [a.state for a in sent_before if a.alert_id == track["alert_id"]]
    assert ours == ["pending", "firing"]  # killed while the cascade was firing
    # the same transitions as the run never stopped: the cascade's id goes on firing, no
    # resolve and no new incident for its scope come from the restart
    assert transitions(alerts) == transitions(reference)
    mine = [a for a in alerts if a.scope == track["scope"] and a.kind == "cascade"]
    assert {a.alert_id for a in mine} == {track["alert_id"]}
    # the restarted process sent only the incident's end, which the data brought later
    again = [a["state"] for a in restarted["alerts"] if a["alert_id"] == track["alert_id"]]
    assert again == ["resolved"]
    # the restarted engine is the never-stopped one: windows, baselines, tails, book
    final, expected = canonical(restarted["engine"]), canonical(reference_run["engine"])
    # burst baselines, CUSUM, event rate, tails, stream gaps, windows, prices, alert book
    assert differences(final, expected) == []
    assert "engine.bursts.seasonal[0]" in differences(canonical(at_kill), expected)  # data after
