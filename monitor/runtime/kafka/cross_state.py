"""The Kafka cross stage's state file: its engine, its merger and its windows-topic position.

Without it, a cross stage that starts (or takes over) rebuilds its engine by re-reading the
windows topic from its start, so what it learned longer ago than the topic's retention (7 d
by default: 4-week baselines, 30 days of crash history) is lost on every restart. With it,
the stage restores the engine and the `SummaryMerger` as they were after the last
committed batch and reads the windows topic on from the saved position.

`CrossStage` saves after a committed batch every ``state.save_interval_s`` and once at a
clean stop when it is between batches: a snapshot then never holds an alert transition
that is not on the alerts topic. The file is ``<state.dir>/aggregate-<group>-<topic>.state``,
kept by the same `StateKeeper` as ``liqmon run``'s (atomic writes, versioned). A state of
another windows topic, one whose position the topic no longer holds (retention) or has not
reached (a recreated topic), or one that does not fit the engine, is logged in one line and
ignored: the stage then rebuilds from the topic's start, as without a state file.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.state.engine import EngineSnapshot
from monitor.state.keeper import StateKeeper
from monitor.state.settings import StateSettings
from monitor.state.snapshot import RESTORE_ERRORS, RestoreError, Snapshot


@dataclass
class _CrossPart:
    """`Snapshottable` view of one cross stage between batches."""

    topic: str
    engine: Engine
    merger: SummaryMerger
    position: int = 0
    kept: tuple[int, int] = (0, 0)  # the offsets the windows partition holds (at restore)

    def snapshot(self) -> Snapshot:
        """Return the stage's state (called at every save)."""
        return {
            "topic": self.topic,
            "position": self.position,
            "engine": EngineSnapshot(self.engine).snapshot(),
            "merger": self.merger.snapshot(),
        }

    def restore(self, state: Snapshot) -> None:
        """Load `state`, or raise `RestoreError` and leave engine and merger clean."""
        position = state["position"]
        if state["topic"] != self.topic:
            raise RestoreError("saved for the windows topic %r" % state["topic"])
        begin, end = self.kept
        if not isinstance(position, int) or not begin <= position <= end:
            msg = "offset %r is not in the windows topic (it holds %d to %d)"
            raise RestoreError(msg % (position, begin, end))
        try:
            EngineSnapshot(self.engine).restore(state["engine"])
            self.merger.restore(state["merger"])
        except RESTORE_ERRORS:
            engine = self.engine
            Engine.__init__(engine, engine.settings, engine.metrics, engine.sessions)
            self.merger.restore({})
            raise
        self.position = position


class CrossState:
    """Saves and restores one cross stage (one consumer group, one windows topic).

    Args:
        cfg: the ``state`` settings (directory, save interval).
        topic: the physical windows topic.
        group: the aggregate group id.
    """

    def __init__(self, cfg: StateSettings, topic: str, group: str) -> None:
        self.role = "aggregate-" + re.sub(r"[^A-Za-z0-9_.-]", "_", "%s-%s" % (group, topic))
        self.cfg = cfg
        self.topic = topic
        self.saved_at = time.monotonic()
        self.saves = 0
        self.restored_position: int | None = None  # where the last restore resumed
        self.enabled = True  # off: save nothing more (tests' crash)

    def due(self) -> bool:
        """Return True when the periodic save is due (called after each committed batch)."""
        return self.enabled and time.monotonic() - self.saved_at >= self.cfg.save_interval_s

    async def save(self, engine: Engine, merger: SummaryMerger, position: int) -> bool:
        """Write the state of a stage between batches; False (logged) on failure."""
        if not self.enabled:
            return False
        part = _CrossPart(self.topic, engine, merger, position)
        self.saved_at = time.monotonic()
        saved = await StateKeeper(self.cfg, self.role, {"cross": part}).save()
        self.saves += saved
        return saved

    def restore(self, engine: Engine, merger: SummaryMerger, begin: int, end: int) -> int | None:
        """Restore `engine` and `merger`; return the windows offset to read on from, or None.

        `begin` and `end` are the first and the next offset the windows partition holds. On
        None the engine and merger are clean (or untouched): the caller rebuilds from the
        topic's start. A misfit is logged in one line by the keeper.
        """
        part = _CrossPart(self.topic, engine, merger, kept=(begin, end))
        keeper = StateKeeper(self.cfg, self.role, {"cross": part})
        self.restored_position = part.position if keeper.load() == ["cross"] else None
        return self.restored_position
