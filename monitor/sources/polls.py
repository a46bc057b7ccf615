"""The live daemon's side sources: Binance open interest and Binance's TradFi sessions.

Built once through `monitor.runtime.inputs.rest_polls` by ``liqmon run`` and the live
Kafka ingest role (not for replays: they read history, and the schedule is then the
template); each returned object is an EventSource that runs until cancelled, counts its
failures (``liqmon_rest_poll_errors_total``, the session stream's in
``liqmon_ws_reconnects_total``) and never raises. `build_session_sources` alone is what a
pipeline whose engine runs elsewhere than the ingest calls (the Kafka ``aggregate`` role).
"""

from __future__ import annotations

from monitor.config import Settings
from monitor.sessions.calendar import SessionCalendar
from monitor.sessions.fetch import ENDPOINT, ScheduleWatcher
from monitor.sessions.stream import SessionStream
from monitor.source_metrics import SourceMetrics
from monitor.sources import binance_usdm
from monitor.sources.binance_oi import OpenInterestPoller

RestPoll = OpenInterestPoller | ScheduleWatcher | SessionStream
SessionSource = ScheduleWatcher | SessionStream


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
    if calendar is not None:
        out += build_session_sources(settings, calendar, metrics)
    return out


def build_session_sources(
    settings: Settings, calendar: SessionCalendar, metrics: SourceMetrics
) -> list[SessionSource]:
    """Return what keeps `calendar` fed with Binance's TradFi sessions, as configured.

    The ``tradingSchedule`` fetch (daily, cached under ``<state.dir>/sessions``) and the
    ``tradingSession`` stream (a change within a second); both need ``binance_usdm``
    enabled and ``sessions.enabled``. Each is an EventSource that publishes nothing: run
    each ``await source.run(publish)`` as a task for as long as the engine owning
    `calendar` lives, live only (replays keep the template). Called by `build_rest_polls`
    (``liqmon run``) and by the Kafka ``aggregate`` role's wiring.
    """
    venue = binance_usdm.NAME
    cfg = settings.sessions
    if venue not in settings.sources.enabled or not cfg.enabled:
        return []
    out: list[SessionSource] = []
    if cfg.fetch_schedule:
        out.append(
            ScheduleWatcher(
                calendar, settings.state.directory() / "sessions",
                rest_override=settings.sources.rest_override.get(venue),
                refresh_s=cfg.schedule_refresh_s, timeout_s=cfg.schedule_timeout_s,
                on_error=lambda reason: metrics.poll_errors.labels(venue, ENDPOINT, reason).inc(),
            )
        )  # fmt: skip
    if cfg.stream_sessions:
        out.append(
            SessionStream(
                calendar, endpoint_override=settings.sources.endpoint_override.get(venue),
                stale_after_s=cfg.stream_stale_s, metrics=metrics,
            )
        )  # fmt: skip
    return out
