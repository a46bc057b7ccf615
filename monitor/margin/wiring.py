"""Builds the margin inputs the app runs as event sources, from `MarginSettings`.

Each returned object has ``async run(publish)`` and runs until cancelled, so it fits the
app's ``EventSource`` protocol (``publish`` takes any contract events; these publish only
`MarginChange`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from monitor.clock import Clock
from monitor.config.margin import MarginSettings
from monitor.events import AssetClass
from monitor.margin.calendar import CalendarWatcher
from monitor.margin.pollers import TierPoller, http_fetcher

logger = logging.getLogger(__name__)

MarginSource = CalendarWatcher | TierPoller


def poll_interval(settings: MarginSettings, alert_open: Callable[[], bool]) -> Callable[[], float]:
    """Return the pollers' interval function: faster while `alert_open()` is True (seconds)."""

    def interval_s() -> float:
        return settings.poll_interval_alert_s if alert_open() else settings.poll_interval_s

    return interval_s


def build_margin_sources(
    settings: MarginSettings,
    classes: Mapping[str, AssetClass],
    *,
    alert_open: Callable[[], bool] = lambda: False,
    clock: Clock | None = None,
    on_skip: Callable[[int], None] | None = None,
    enabled: Collection[str] | None = None,
) -> list[MarginSource]:
    """Return one watcher per calendar file and one poller per configured venue.

    A poller runs only for a venue in `enabled` (``sources.enabled``; None: every one): a
    venue the operator left out is not polled either.

    Args:
        settings: the ``margin`` config section.
        classes: the ``assets.classes`` table.
        alert_open: True while any alert is pending or firing (pollers speed up).
        clock: stamps poller events (the system clock by default).
        on_skip: called with the number of calendar rows each read skipped (a metric).
        enabled: the venues of ``sources.enabled``; None runs every configured poller.
    """
    sources: list[MarginSource] = [
        CalendarWatcher(
            Path(path).expanduser(),
            classes,
            interval_s=settings.calendar_check_s,
            min_confidence=settings.min_confidence,
            on_skip=on_skip,
        )
        for path in settings.calendars
    ]
    symbols = {
        "bybit": settings.bybit_symbols,
        "okx": settings.okx_families,
        "hyperliquid": settings.hyperliquid_coins,
    }
    interval_s = poll_interval(settings, alert_open)
    for venue in dict.fromkeys(settings.pollers):
        if enabled is not None and venue not in enabled:
            logger.debug("margin poller %s not started: not in sources.enabled", venue)
            continue
        fetch = http_fetcher(
            venue, symbols=symbols[venue], base=settings.rest_override.get(venue),
            timeout_s=settings.poll_timeout_s,
        )  # fmt: skip
        sources.append(
            TierPoller(venue, fetch, classes=classes, interval_s=interval_s, clock=clock)
        )
    return sources
