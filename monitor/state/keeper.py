"""Keep one role's state: restore it at start, save it every ``save_interval_s`` and at stop.

A role builds a `StateKeeper` over its `Snapshottable` parts, calls `load` once before it
consumes anything, and runs `run` as a task: it saves periodically and once more when the
role's pipeline is done. A failed save is logged in one line and retried at the next one;
the daemon never stops for its state file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.aggregate.engine import Engine
from monitor.config import Settings
from monitor.state.engine import EngineSnapshot
from monitor.state.settings import StateSettings
from monitor.state.snapshot import Snapshottable, collect, restore_all
from monitor.state.store import StateStore
from monitor.state.warmup import seed_from_files

logger = logging.getLogger(__name__)


class StateKeeper:
    """Loads and saves the parts of one role (``run``, ``aggregate``)."""

    def __init__(self, cfg: StateSettings, role: str, parts: Mapping[str, Snapshottable]) -> None:
        self.cfg = cfg
        self.store = StateStore(cfg.directory(), role)
        self.parts = dict(parts)
        self.saves = 0
        self.restored: list[str] = []

    def load(self) -> list[str]:
        """Restore every part the state file holds; return their names (empty: none)."""
        doc = self.store.read()
        if doc is None:
            logger.info("no state in %s: starting fresh", self.store.path)
            return []
        self.restored = restore_all(self.parts, doc["parts"])
        age_s = (time.time_ns() - int(doc.get("saved_ns", 0))) / 1e9
        logger.info(
            "state restored from %s (saved %.0f s ago): %s",
            self.store.path, age_s, ", ".join(self.restored) or "nothing",
        )  # fmt: skip
        return self.restored

    def encode(self) -> bytes:
        """Return the state file bytes of the parts now (synchronous: a consistent view)."""
        return self.store.encode(collect(self.parts), time.time_ns())

    async def save(self) -> bool:
        """Snapshot now and write the file off the event loop; False (logged) on failure."""
        data = self.encode()
        try:
            await asyncio.to_thread(self.store.write, data)
        except OSError as exc:
            logger.warning("state not saved to %s: %s", self.store.path, exc)
            return False
        self.saves += 1
        return True

    async def run(self, done: asyncio.Event) -> None:
        """Save every ``save_interval_s`` until `done` is set, then save once more."""
        while not done.is_set():
            try:
                async with asyncio.timeout(self.cfg.save_interval_s):
                    await done.wait()
            except TimeoutError:
                await self.save()
        await self.save()


async def keep_state(keeper: StateKeeper | None, done: asyncio.Event) -> None:
    """Run `keeper` until `done` (then save once more); return at once without one."""
    if keeper is not None:
        await keeper.run(done)


@dataclass(frozen=True, slots=True)
class StatePlan:
    """What a role keeps and seeds: its state file, and where to warm up from.

    Attributes:
        role: keep state in ``<state.dir>/<role>.state`` (``run``, ``aggregate``); None: no
            state file (replays).
        warmup: kline files seeding price volatility when no state was restored
            (``liqmon replay --warmup``).
        rest: on a start without state, seed from the venues' REST klines (live daemon).
    """

    role: str | None = None
    warmup: tuple[Path, ...] = ()
    rest: bool = False


@dataclass(frozen=True, slots=True)
class Prepared:
    """The outcome of `prepare_engine`: the keeper (if any) and a line for ``/readyz``."""

    keeper: StateKeeper | None = None
    warm_start: str = ""


async def prepare_engine(settings: Settings, plan: StatePlan | None, engine: Engine) -> Prepared:
    """Restore `engine` (state file, else warm-up files or REST klines) before it consumes.

    Called once by a role before it consumes anything.

    Raises:
        InputError: a warm-up file cannot be read (one line naming it).
    """
    if plan is None:
        return Prepared()
    keeper = None
    if plan.role is not None:
        keeper = keeper_for(settings.state, plan.role, {"engine": EngineSnapshot(engine)})
    if keeper is not None and keeper.restored:
        return Prepared(keeper, "state restored")
    status = ""
    if plan.warmup:
        seeded = seed_from_files(engine.prices, plan.warmup, settings.assets.classes)
        status = "%d instruments seeded from files" % len(seeded)
    elif plan.rest and settings.state.warm_start:
        status = await _rest_warm_start(settings, engine)
    return Prepared(keeper, status)


async def _rest_warm_start(settings: Settings, engine: Engine) -> str:
    from monitor.sources.polls import watched_symbols  # noqa: PLC0415  (aiohttp)
    from monitor.state.rest_warmup import VENUE, warm_from_rest  # noqa: PLC0415  (aiohttp)

    if VENUE not in settings.sources.enabled:
        return "no kline source among the enabled venues, using priors"
    symbols = watched_symbols(settings, VENUE)
    return await warm_from_rest(
        engine.prices, list(symbols), settings.state.directory() / "klines",
        settings.assets.classes, rest_override=settings.sources.rest_override.get(VENUE),
        minutes=round(settings.state.warm_start_days * 1440),
        timeout_s=settings.state.warm_start_timeout_s,
    )  # fmt: skip


def keeper_for(
    cfg: StateSettings, role: str, parts: Mapping[str, Snapshottable]
) -> StateKeeper | None:
    """Return a keeper with its state loaded, or None when ``state.enabled`` is off."""
    if not cfg.enabled:
        return None
    keeper = StateKeeper(cfg, role, parts)
    keeper.load()
    return keeper
