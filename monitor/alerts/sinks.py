"""Alert sinks that never block: the log, a human-readable text stream, a JSON-lines file.

Every sink satisfies `AlertSink`; the router calls `send` for each transition in order.
Network sinks (webhook, Slack, …) come with their own queues so they cannot stall this
path.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from monitor.events import NS, Alert
from monitor.io.jsonl import EventWriter

logger = logging.getLogger(__name__)


class AlertSink(Protocol):
    """Receives alert transitions. `send` must return quickly and never raise for delivery."""

    def send(self, alert: Alert) -> None:
        """Take one transition."""
        ...

    def close(self) -> None:
        """Flush and release resources (called once, at shutdown)."""
        ...


def format_alert(alert: Alert) -> str:
    """Return one readable line: event time, state, severity, kind, scope, wave, summary."""
    seconds, _ = divmod(alert.ts_ns, NS)
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(seconds))
    return "%s  %-8s %-8s %s %s wave %d  %s" % (
        when,
        alert.state.upper(),
        alert.severity,
        alert.kind,
        alert.scope,
        alert.wave,
        alert.summary,
    )


class LogSink:
    """Always on: every transition is at least a log line."""

    def send(self, alert: Alert) -> None:
        """Log `alert` at WARNING (firing) or INFO (other states)."""
        level = logging.WARNING if alert.state == "firing" else logging.INFO
        logger.log(level, "alert %s", format_alert(alert), extra={"alert_id": alert.alert_id})

    def close(self) -> None:
        """Nothing to release."""


class TextSink:
    """Writes `format_alert` lines to a text stream (replay prints alerts to stdout).

    `before` is called before each line: the replay passes the progress line's ``clear``
    so an alert never lands on the same terminal line as the progress.
    """

    def __init__(self, stream: TextIO, before: Callable[[], None] | None = None) -> None:
        self.stream = stream
        self.before = before
        self.broken = False

    def send(self, alert: Alert) -> None:
        """Write one line; once the reader has gone (``| head``), stop writing quietly."""
        if self.broken:
            return
        if self.before is not None:
            self.before()
        try:
            self.stream.write(format_alert(alert) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.broken = True

    def close(self) -> None:
        """Flush the stream (it is not ours to close)."""
        if not self.broken:
            with contextlib.suppress(BrokenPipeError):
                self.stream.flush()


class JsonlSink:
    """Writes contract JSON lines (``--alerts-out``); flushed after every alert."""

    def __init__(self, path: Path) -> None:
        self.writer = EventWriter(path)

    def send(self, alert: Alert) -> None:
        """Append one line and flush, so nothing accepted is lost on a crash."""
        self.writer.write(alert)
        self.writer.flush()

    def close(self) -> None:
        """Close the file."""
        self.writer.close()
