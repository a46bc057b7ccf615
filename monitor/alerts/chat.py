"""Shared wording of chat notifications (Slack, Discord, Telegram): headline and numbers."""

from __future__ import annotations

import time
from typing import Final

from monitor.events import NS, Alert

MAX_NUMBERS: Final = 6
"""Evidence numbers shown per message (the detector lists the telling ones first)."""

EMOJI: Final[dict[str, str]] = {"critical": "🚨", "warning": "⚠️", "resolved": "✅"}
SLACK_EMOJI: Final[dict[str, str]] = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "resolved": ":white_check_mark:",
}


def tone(alert: Alert) -> str:
    """Return ``resolved`` for a resolved alert, else its severity (picks emoji and colour)."""
    return "resolved" if alert.state == "resolved" else alert.severity


def headline(alert: Alert) -> str:
    """Return ``FIRING · critical · cascade · BTC`` (no emoji, no markup)."""
    return "%s · %s · %s · %s" % (alert.state.upper(), alert.severity, alert.kind, alert.scope)


def iso_time(ts_ns: int) -> str:
    """Return epoch nanoseconds as ISO 8601 UTC, to the second (``2024-08-05T01:30:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts_ns // NS))


def footer(alert: Alert) -> str:
    """Return ``wave 1 · started … · id …`` for the small print."""
    return "wave %d · started %s · id %s" % (alert.wave, iso_time(alert.started_ns), alert.alert_id)


def evidence_numbers(alert: Alert, limit: int = MAX_NUMBERS) -> list[tuple[str, str]]:
    """Return up to `limit` numeric evidence entries as (name, text), in the alert's order.

    Keys ending in ``_usd`` print as ``$12.35M``; other floats with 6 significant digits.
    """
    numbers: list[tuple[str, str]] = []
    for name, value in alert.evidence.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        numbers.append((name, _number(name, value)))
        if len(numbers) == limit:
            break
    return numbers


def _number(name: str, value: float) -> str:
    if name.endswith("_usd"):
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(value) >= size:
                return "$%.2f%s" % (value / size, unit)
        return "$%.0f" % value
    if isinstance(value, int):
        return "%d" % value
    return "%.6g" % value
