"""The Kafka cross stage's state file: its engine, its merger and its windows-topic position.

Without it, a cross stage that starts (or takes over) rebuilds its engine by re-reading the
windows topic from its start, so what it learned longer ago than the topic's retention (7 d
by default: 4-week baselines, 30 days of crash history) is lost on every restart. With it,
the stage restores the engine and the `SummaryMerger` as they were after the last
committed batch and reads the windows topic on from the saved position.

`CrossStage` saves after a committed batch every ``state.save_interval_s`` and once at a
clean stop when it is between batches: a snapshot then never holds an alert transition
that is not on the alerts topic. The file is ``<state.dir>/aggregate-<group>-<topic>.state``
(`monitor.state.store`: atomic writes, versioned). A state of another windows topic, one
whose position the topic no longer holds (retention) or has not reached (a recreated
topic), or one that does not fit the engine, is logged in one line and ignored: the stage
then rebuilds from the topic's start, as without a state file.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from monitor.aggregate.engine import Engine
from monitor.aggregate.merge import SummaryMerger
from monitor.state.engine import EngineSnapshot
from monitor.state.settings import StateSettings
from monitor.state.snapshot import RESTORE_ERRORS
from monitor.state.store import StateStore

log = logging.getLogger(__name__)


class CrossState:
    """Saves and restores one cross stage (one consumer group, one windows topic).

    Args:
        cfg: the ``state`` settings (directory, save interval).
        topic: the physical windows topic.
        group: the aggregate group id.
    """

    def __init__(self, cfg: StateSettings, topic: str, group: str) -> None:
        role = "aggregate-" + re.sub(r"[^A-Za-z0-9_.-]", "_", "%s-%s" % (group, topic))
        self.store = StateStore(cfg.directory(), role)
        self.topic = topic
        self.interval_s = cfg.save_interval_s
        self.saved_at = time.monotonic()
        self.saves = 0
        self.restored_position: int | None = None  # where the last restore resumed
        self.enabled = True  # off: save nothing more (tests' crash)

    def due(self) -> bool:
        """Return True when the periodic save is due (called after each committed batch)."""
        return self.enabled and time.monotonic() - self.saved_at >= self.interval_s

    async def save(self, engine: Engine, merger: SummaryMerger, position: int) -> bool:
        """Write the state of a stage between batches; False (logged) on failure."""
        if not self.enabled:
            return False
        cross = {
            "topic": self.topic,
            "position": position,
            "engine": EngineSnapshot(engine).snapshot(),
            "merger": merger.snapshot(),
        }
        data = self.store.encode({"cross": cross}, time.time_ns())
        self.saved_at = time.monotonic()
        try:
            await asyncio.to_thread(self.store.write, data)
        except OSError as exc:
            log.warning("state not saved to %s: %s", self.store.path, exc)
            return False
        self.saves += 1
        return True

    def restore(self, engine: Engine, merger: SummaryMerger, begin: int, end: int) -> int | None:
        """Restore `engine` and `merger`; return the windows offset to read on from, or None.

        `begin` and `end` are the first and the next offset the windows partition holds. On
        None nothing was changed (or the engine was put back to a clean start): the caller
        rebuilds from the topic's start.
        """
        self.restored_position = None
        doc = self.store.read()
        if doc is None:
            return None
        cross: Any = doc["parts"].get("cross")
        why = _unfit(cross, self.topic, begin, end)
        if why is None:
            try:
                EngineSnapshot(engine).restore(cross["engine"])
                merger.restore(cross["merger"])
            except RESTORE_ERRORS as exc:
                Engine.__init__(engine, engine.settings, engine.metrics)
                merger.restore({})
                why = str(exc)
        if why is not None:
            log.warning("state file %s ignored: %s; rebuilding", self.store.path, why)
            return None
        self.restored_position = int(cross["position"])
        log.info(
            "cross stage: state restored, reading %s on from offset %d",
            self.topic, self.restored_position,
        )  # fmt: skip
        return self.restored_position


def _unfit(cross: object, topic: str, begin: int, end: int) -> str | None:
    """Return why the saved `cross` part cannot be used, or None."""
    if not isinstance(cross, dict) or not isinstance(cross.get("position"), int):
        return "no cross-stage part"
    if cross.get("topic") != topic:
        return "saved for the windows topic %r" % cross.get("topic")
    if not begin <= cross["position"] <= end:
        return "offset %d is not in the windows topic any more (it holds %d to %d)" % (
            cross["position"],
            begin,
            end,
        )
    return None
