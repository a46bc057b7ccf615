"""Alert routing: every transition to metrics, the log, the sinks and the handle's history.

`delivery` builds the router of a daemon and, when live, the configured chat and webhook
sinks (`monitor.alerts.factory`, aiohttp: imported only then), started before the daemon's
tasks and drained and stopped after them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from monitor.alerts.sinks import AlertSink, LogSink
from monitor.config import Settings
from monitor.events import Alert
from monitor.observability.metrics import Metrics

if TYPE_CHECKING:
    from monitor.alerts.delivery import QueuedSink


class AlertRouter:
    """Sends each alert to metrics, every sink and the handle's history; tracks firing."""

    def __init__(
        self,
        metrics: Metrics,
        sinks: Sequence[AlertSink],
        history: list[Alert],
        restored: Sequence[Alert] = (),
    ) -> None:
        self.metrics = metrics
        self.sinks = list(sinks)
        self.history = history
        self._firing: set[tuple[str, str]] = set()
        self.adopt(restored)  # alerts restored from the state file: firing, already sent

    def adopt(self, alerts: Sequence[Alert]) -> None:
        """Count `alerts` as firing without sending them (restored at start, sent before)."""
        for alert in alerts:
            key = (alert.kind, alert.scope)
            if alert.state == "firing" and key not in self._firing:
                self._firing.add(key)
                self.metrics.alert_active.labels(
                    alert.kind, self.metrics.scope_label(alert.scope)
                ).inc()

    def route(self, alerts: Sequence[Alert]) -> None:
        """Deliver `alerts` in order."""
        for alert in alerts:
            key = (alert.kind, alert.scope)
            delta = 0
            if alert.state == "firing" and key not in self._firing:
                self._firing.add(key)
                delta = 1
            elif alert.state == "resolved" and key in self._firing:
                self._firing.discard(key)
                delta = -1
            self.metrics.observe_alert(alert, delta)
            self.history.append(alert)
            for sink in self.sinks:
                sink.send(alert)

    def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            sink.close()


@contextlib.asynccontextmanager
async def delivery(
    settings: Settings,
    metrics: Metrics,
    history: list[Alert],
    *,
    sinks: Sequence[AlertSink] = (),
    log_alerts: bool = True,
    direct: bool = False,
    restored: Sequence[Alert] = (),
) -> AsyncIterator[AlertRouter]:
    """Yield the daemon's `AlertRouter`; on exit close it and stop the direct sinks.

    Args:
        settings: the configuration (``alerts`` says which direct sinks).
        metrics: counts every transition.
        history: the handle's list every transition is appended to.
        sinks: sinks of the caller, after the log sink.
        log_alerts: also log every alert (off when the caller prints them already).
        direct: run the configured chat and webhook sinks (live daemons; no replay spam).
        restored: alerts restored from the state file, firing and already sent.
    """
    queued: list[QueuedSink] = []
    if direct:
        from monitor.alerts.factory import build_sinks  # noqa: PLC0415  (aiohttp)

        queued = build_sinks(settings.alerts, metrics)
    routed: list[AlertSink] = [*([LogSink()] * log_alerts), *sinks, *queued]
    router = AlertRouter(metrics, routed, history, restored=restored)
    try:
        if queued:
            from monitor.alerts.factory import start_sinks  # noqa: PLC0415

            await start_sinks(queued)
        yield router
    finally:
        router.close()
        if queued:
            from monitor.alerts.factory import stop_sinks  # noqa: PLC0415

            await stop_sinks(queued, settings.alerts.stop_timeout_s)
