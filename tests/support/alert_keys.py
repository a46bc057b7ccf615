"""What two runs of one recording must agree on: each alert's key, in order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.events import Alert
from monitor.io.jsonl import read_events

Key = tuple[str, str, str, str, int]


def alerts_in(path: Path) -> list[Alert]:
    """Return the alerts of a ``--alerts-out`` file, in order."""
    return [a for a in read_events(path) if isinstance(a, Alert)]


def keys(alerts: Sequence[Alert]) -> list[Key]:
    """Return (kind, scope, state, severity, event time) of each alert, in order."""
    return [(a.kind, a.scope, a.state, a.severity, a.ts_ns) for a in alerts]
