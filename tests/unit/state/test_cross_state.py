"""The Kafka cross stage's state file: restored only when it fits the windows topic."""

from __future__ import annotations

from pathlib import Path

import msgspec

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.config import load
from monitor.runtime.kafka.cross_state import CrossState
from tests.unit.aggregate.test_split_summary import summary


def stage(tmp_path: Path) -> tuple[CrossState, Engine, SummaryMerger]:
    settings = load(None)
    state = msgspec.structs.replace(settings.state, dir=str(tmp_path))
    engine = Engine(settings)
    return CrossState(state, "t.windows.v1", "g"), engine, SummaryMerger(engine)


async def test_a_saved_stage_is_restored_at_its_position(tmp_path: Path) -> None:
    cross, engine, merger = stage(tmp_path)
    merger.take([summary(range(100, 110), 3)])
    merger.advance()
    assert await cross.save(engine, merger, 42)
    again, engine2, merger2 = stage(tmp_path)
    assert again.restore(engine2, merger2, 0, 50) == 42
    assert merger2.closed_before == merger.closed_before
    assert engine2.closed_sec == engine.closed_sec


async def test_a_position_the_topic_no_longer_holds_is_ignored(tmp_path: Path) -> None:
    cross, engine, merger = stage(tmp_path)
    merger.take([summary(range(100, 110), 3)])
    merger.advance()
    assert await cross.save(engine, merger, 42)
    again, engine2, merger2 = stage(tmp_path)
    assert again.restore(engine2, merger2, 43, 90) is None  # retention passed it
    assert again.restore(engine2, merger2, 0, 41) is None  # a recreated topic
    assert merger2.closed_before == {}
    assert engine2.closed_sec is None


async def test_each_windows_topic_has_its_own_file_and_a_crash_saves_nothing(
    tmp_path: Path,
) -> None:
    cross, engine, merger = stage(tmp_path)
    assert await cross.save(engine, merger, 7)
    settings = load(None)
    other = CrossState(
        msgspec.structs.replace(settings.state, dir=str(tmp_path)), "u.windows.v1", "g"
    )
    assert other.restore(engine, merger, 0, 50) is None  # another file: nothing to restore
    cross.enabled = False  # a crash: nothing more is saved
    assert not await cross.save(engine, merger, 9)
    assert cross.restore(engine, merger, 0, 50) == 7
