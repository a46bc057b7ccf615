"""A recording fed to ``liqmon run``'s wiring as if it were live, on a simulated clock.

`LiveFeed` is an event source for `run_app(live=True)`: the daemon's live code paths run
(seconds closed by the clock while no data comes, the direct alert sinks, publishing with
the enqueue timeout), but time is a `SimClock` that the feed moves. One step is at most
`STEP_EVENTS` events and `STEP_S` seconds of event time; for each step the feed

1. moves the clock to the time of the next step's first event (the daemon is "now" just
   before that event happens: every second in between passes without data),
2. publishes the step, and
3. waits until the aggregator took it from the bus. The aggregator processes a batch and
   then closes idle seconds up to the clock − 5 s in one turn, without yielding, so the
   step's events are in the engine before the clock closes anything after them.

That is a daemon that keeps up with its feed: the one condition under which live and
replayed alerts can be equal. (A daemon that falls more than 5 s + ``grace_ms`` behind
closes seconds by the clock before their events arrive, and those events are late.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from monitor import config
from monitor.bus.base import Publish
from monitor.clock import SimClock
from monitor.events import NS, Alert, Event, event_time_ns
from monitor.replay.source import ReplaySource
from monitor.runtime.embedded import run_app
from monitor.state.keeper import StatePlan

STEP_EVENTS: Final = 4096
STEP_S: Final = 600  # at most this much event time per step: idle closing every 10 minutes


def steps(events: Iterator[Event]) -> Iterator[list[Event]]:
    """Yield `events` in steps of ≤ `STEP_EVENTS` events spanning < `STEP_S` s of event time."""
    step: list[Event] = []
    for event in events:
        if step and (
            len(step) >= STEP_EVENTS or event_time_ns(event) - event_time_ns(step[0]) >= STEP_S * NS
        ):
            yield step
            step = []
        step.append(event)
    if step:
        yield step


class LiveFeed:
    """Publishes a recording's events as a live venue would, moving `clock` (see module).

    Args:
        source: the recording (its `events`, in event-time order).
        clock: the daemon's clock (`run_app(clock=...)`).

    Call `attach` with the bus depth of the running daemon before the feed starts
    publishing (it waits for it).
    """

    def __init__(self, source: ReplaySource, clock: SimClock) -> None:
        self.source = source
        self.clock = clock
        self.published = 0
        self.idle_steps = 0  # steps after which the clock passed ≥ 5 s without data
        self._depth: Callable[[], int] | None = None
        self._attached = asyncio.Event()

    def attach(self, depth: Callable[[], int]) -> None:
        """Give the feed the daemon's bus depth (events not yet taken by the aggregator)."""
        self._depth = depth
        self._attached.set()

    async def run(self, publish: Publish) -> None:
        """Publish every step, moving the clock and waiting for the aggregator (see module)."""
        await self._attached.wait()
        it = steps(self.source.events())
        step = next(it, None)
        while step is not None:
            following = next(it, None)
            now = event_time_ns(following[0]) if following is not None else event_time_ns(step[-1])
            if now - event_time_ns(step[-1]) >= 5 * NS:
                self.idle_steps += 1
            self.clock.set_ns(now)
            self.published += await publish(step)
            await self._taken()
            step = following

    async def _taken(self) -> None:
        assert self._depth is not None
        while self._depth():  # noqa: ASYNC110  (the aggregator task takes from the bus)
            await asyncio.sleep(0)


async def run_live(path: Path, state_dir: Path) -> tuple[list[Alert], LiveFeed]:
    """Feed the recording at `path` to `liqmon run`'s wiring; return its alerts and the feed.

    The wiring of ``liqmon run`` but the venues, the margin pollers and the REST warm start
    (they would reach the exchanges): `run_app(live=True)` serving HTTP on a free port,
    keeping its state file in `state_dir` (empty: a first start).
    """
    settings = config.load(
        None, env={}, overrides={"http.listen": "127.0.0.1:0", "state.dir": str(state_dir)}
    )
    clock = SimClock()
    feed = LiveFeed(ReplaySource([path], classes=settings.assets.classes), clock)
    async with run_app(
        settings, sources=[feed], clock=clock, live=True, log_alerts=False,
        state_plan=StatePlan(role="run"),
    ) as app:  # fmt: skip
        feed.attach(app.bus.depth)
        await app.pipeline_done.wait()
    assert not app.source_errors, app.source_errors
    return app.alerts, feed
