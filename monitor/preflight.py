"""Checks a command makes before it starts anything, shared by ``check-config``.

`check` runs every validation of the settings that ``run``, ``ingest``, ``aggregate`` and
``record`` would otherwise only meet while starting: the venues in ``sources.enabled``
exist, and with the Kafka bus the configured compression codec is installed. So
``liqmon check-config`` fails exactly where ``liqmon run`` would, with the same one line.
"""

from __future__ import annotations

from monitor.config import Settings
from monitor.sources import SOURCES
from monitor.sources.base import VenueSpec
from monitor.sources.manager import select_venues


def check(settings: Settings) -> list[VenueSpec]:
    """Validate what the settings name beyond their own types; return the enabled venues.

    Raises:
        ConfigError: naming the key and the reason, in one line.
    """
    venues = select_venues(SOURCES, settings.sources.enabled)
    if settings.bus.kind == "kafka":
        from monitor.bus.kafka.common import compression_of  # noqa: PLC0415  (aiokafka)

        compression_of(settings.bus.kafka)
    return venues
