"""The one redrawable status line on a terminal (replay and evaluate progress).

Alert lines go to stdout and progress to stderr, which on a terminal are the same screen:
`StatusLine.clear` is called before any other line is written, so a progress line and an
alert never share a line; the next redraw puts the progress back under the alert. Off a
terminal (a pipe, a file, CI) the status line writes nothing at all.
"""

from __future__ import annotations

import time
from typing import TextIO

from monitor.replay.source import Progress

_CLEAR = "\r\x1b[K"


class StatusLine:
    """One line at the bottom of a terminal, redrawn in place."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = False

    def show(self, text: str) -> None:
        """Replace the line with `text` (called by the progress task every half second)."""
        if not self.enabled:
            return
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line, so the next write starts on a clean one (before every alert)."""
        if self.shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self.shown = False


def progress_text(progress: Progress) -> str:
    """Return ``42.0% · 1,234 events · event time … · 5,000 events/s · ETA 0:12``."""
    parts = []
    done = progress.fraction()
    if done is not None:
        parts.append("%.1f%%" % (100.0 * done))
    parts.append("%s events" % f"{progress.events:,}")
    if progress.event_time_ns:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(progress.event_time_ns / 1e9))
        parts.append("event time %s" % when)
    parts.append("%s events/s" % f"{progress.rate():,.0f}")
    eta = progress.eta_s()
    if eta is not None:
        minutes, seconds = divmod(round(eta), 60)
        parts.append("ETA %d:%02d" % (minutes, seconds))
    return " · ".join(parts)
