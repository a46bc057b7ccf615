"""The live daemon's REST polls: Binance open interest and Binance's TradFi schedule.

Built once through `monitor.runtime.inputs.rest_polls` by ``liqmon run`` and the live
Kafka ingest role (not for replays: they read history, and the schedule is then the
template); each returned object is an EventSource that runs until cancelled, counts its
failures in ``liqmon_rest_poll_errors_total`` and never raises.
"""

from __future__ import annotations

from monitor.config import Settings
from monitor.sessions.calendar import SessionCalendar
from monitor.sessions.fetch import ENDPOINT, ScheduleWatcher
from monitor.source_metrics import SourceMetrics
from monitor.sources import binance_usdm
from monitor.sources.binance_oi import OpenInterestPoller

RestPoll = OpenInterestPoller | ScheduleWatcher


def watched_symbols(settings: Settings, venue: str) -> list[str]:
    """Return the venue symbols watched on `venue`: ``sources.symbols``, else ASSETUSDT."""
    return list(
        settings.sources.symbols.get(venue) or ["%sUSDT" % a for a in settings.assets.watch]
    )


def build_rest_polls(
    settings: Settings, calendar: SessionCalendar | None, metrics: SourceMetrics
) -> list[RestPoll]:
    """Return the polls the configuration asks for (Binance USDⓈ-M must be enabled).

    `calendar`: the engine's, fed by the schedule watcher; None where no engine runs
    (the Kafka ingest role, which polls open interest only).
    """
    venue = binance_usdm.NAME
    if venue not in settings.sources.enabled:
        return []
    override = settings.sources.rest_override.get(venue)
    out: list[RestPoll] = []
    if settings.sources.open_interest_poll:
        out.append(
            OpenInterestPoller(
                watched_symbols(settings, venue), settings.assets.classes,
                rest_override=override, interval_s=settings.sources.open_interest_poll_s,
                timeout_s=settings.sources.rest_timeout_s,
                on_error=lambda endpoint, reason: metrics.poll_errors.labels(
                    venue, endpoint, reason
                ).inc(),
            )
        )  # fmt: skip
    cfg = settings.sessions
    if calendar is not None and cfg.enabled and cfg.fetch_schedule:
        out.append(
            ScheduleWatcher(
                calendar, settings.state.directory() / "sessions", rest_override=override,
                refresh_s=cfg.schedule_refresh_s, timeout_s=cfg.schedule_timeout_s,
                on_error=lambda reason: metrics.poll_errors.labels(venue, ENDPOINT, reason).inc(),
            )
        )  # fmt: skip
    return out
