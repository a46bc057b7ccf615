"""The live inputs a daemon adds to its venues: margin changes and the REST polls.

Margin inputs (``liqmon run``; on Kafka the ingest role owns them, so they run once): the
``POST /api/v1/margin-changes`` route, one watcher per ``margin.calendars`` file and one
risk-tier poller per ``margin.pollers`` venue that is also in ``sources.enabled``
(`monitor.margin.wiring`). All three publish through one `MarginInputs`, which remembers
the ``event_id`` of every change the transport took (bounded): a change already published
by any of them (the same notice posted and in a calendar, a retried request) is not
published again; the POST lists it under ``duplicates``.

Imported only by live daemons (aiohttp).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from aiohttp import web

from monitor.bus.base import Publish
from monitor.clock import Clock
from monitor.config import Settings
from monitor.events import Event, MarginChange
from monitor.margin.http import margin_route
from monitor.margin.wiring import build_margin_sources
from monitor.observability.metrics import Metrics
from monitor.recent import RecentIds
from monitor.runtime.core import EventSource
from monitor.sessions.calendar import SessionCalendar
from monitor.sources.health import SourceHealth
from monitor.sources.polls import build_rest_polls

MARGIN_IDS: Final = 10_000  # event ids remembered across the margin inputs of one process


class MarginInputs:
    """The margin POST, calendars and pollers of one daemon, published once per ``event_id``.

    Args:
        settings: the configuration (``margin``, ``http.api_token``, ``assets.classes``).
        publish: the daemon's gate into its transport (returns how many events it took).
    """

    def __init__(self, settings: Settings, publish: Publish) -> None:
        self.settings = settings
        self.publish = publish
        self.seen = RecentIds(capacity=MARGIN_IDS)

    def route(self) -> web.RouteDef:
        """Return ``POST /api/v1/margin-changes`` (`monitor.margin.http`), sharing the ids."""
        s = self.settings
        return margin_route(
            s.http.api_token, self.publish, classes=s.assets.classes, seen=self.seen
        )

    def sources(
        self, metrics: Metrics, clock: Clock, alert_open: Callable[[], bool]
    ) -> list[EventSource]:
        """Return the calendar watchers and tier pollers, each publishing through `once`.

        Args:
            metrics: counts skipped calendar rows (``reason="decode"``).
            clock: stamps the pollers' events.
            alert_open: True while an alert is pending or firing (the pollers speed up);
                an ingest role without an engine in its process passes ``lambda: False``.
        """
        s = self.settings
        built = build_margin_sources(
            s.margin, s.assets.classes, alert_open=alert_open, clock=clock,
            on_skip=lambda n: metrics.dropped.labels("decode").inc(n),
            enabled=s.sources.enabled,
        )  # fmt: skip
        return [_Once(source, self) for source in built]

    async def once(self, changes: Sequence[MarginChange]) -> int:
        """Publish the changes whose ``event_id`` was not published yet.

        Returns how many were taken or already published (a duplicate is not a drop).
        """
        fresh = [c for c in changes if c.event_id not in self.seen]
        if not fresh:
            return len(changes)
        taken = await self.publish(fresh)
        for change in fresh[:taken]:  # the transport takes a prefix and drops the rest
            self.seen.seen(change.event_id)
        return taken + len(changes) - len(fresh)


class _Once:
    """A margin source whose changes go through `MarginInputs.once` (an `EventSource`)."""

    def __init__(self, source: EventSource, inputs: MarginInputs) -> None:
        self.source = source
        self.inputs = inputs

    async def run(self, publish: Publish) -> None:
        """Run the source; `publish` (the daemon's gate) is replaced by the shared one."""
        del publish

        async def once(events: Sequence[Event]) -> int:
            changes = [e for e in events if isinstance(e, MarginChange)]
            return await self.inputs.once(changes)

        await self.source.run(once)


def rest_polls(
    settings: Settings, health: SourceHealth, sessions: SessionCalendar | None
) -> list[EventSource]:
    """Return the live REST polls (`monitor.sources.polls`).

    Open interest, and the TradFi schedule into `sessions` (the engine's calendar; None
    where no engine runs: the Kafka ingest role).
    """
    return list(build_rest_polls(settings, sessions, health.metrics))
