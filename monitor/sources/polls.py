"""The live daemon's side sources: polled open interest and Binance's TradFi sessions.

Built once through `monitor.runtime.inputs.rest_polls` by ``liqmon run`` and the live
Kafka ingest role (not for replays: they read history, and the schedule is then the
template); each returned object is an EventSource that runs until cancelled, counts its
failures (``liqmon_rest_poll_errors_total``, the session stream's in
``liqmon_ws_reconnects_total``) and never raises. `build_session_sources` alone is what a
pipeline whose engine runs elsewhere than the ingest calls (the Kafka ``aggregate`` role).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from monitor.config import Settings
from monitor.observability.source_metrics import SourceMetrics
from monitor.sessions.calendar import SessionCalendar
from monitor.sessions.fetch import ENDPOINT, ScheduleWatcher
from monitor.sessions.stream import SessionStream
from monitor.sources import binance_coinm, binance_usdm, htx
from monitor.sources.binance_oi import BinanceOI
from monitor.sources.htx_oi import HtxOI
from monitor.sources.oi_poll import OIVenue, OpenInterestPoller

RestPoll = OpenInterestPoller | ScheduleWatcher | SessionStream
SessionSource = ScheduleWatcher | SessionStream

OI_VENUES: Final[dict[str, Callable[[str | None], OIVenue]]] = {
    binance_usdm.NAME: BinanceOI.usdm,
    binance_coinm.NAME: BinanceOI.coinm,
    htx.NAME: HtxOI,
}
"""Venue → its open-interest part, given ``sources.rest_override.<venue>`` (the venues
whose streams carry no open interest; `monitor.aggregate.detect.gaps.POLLED_OI` lists the same)."""

DEFAULT_SYMBOL: Final = {binance_coinm.NAME: "%sUSD_PERP", htx.NAME: "%s-USDT"}
"""Venue → its spelling of a watched asset's perpetual (else ``%sUSDT``)."""


def watched_symbols(settings: Settings, venue: str) -> list[str]:
    """Return the venue symbols watched on `venue`: ``sources.symbols``, else ASSET's perp.

    The perpetual as the venue spells it: ``BTCUSDT``, ``BTCUSD_PERP``, ``BTC-USDT``.
    """
    spelling = DEFAULT_SYMBOL.get(venue, "%sUSDT")
    return list(
        settings.sources.symbols.get(venue) or [spelling % a for a in settings.assets.watch]
    )


def build_rest_polls(
    settings: Settings, calendar: SessionCalendar | None, metrics: SourceMetrics
) -> list[RestPoll]:
    """Return the polls the configuration asks for, for the enabled venues.

    Open interest (``sources.open_interest_poll``) of each enabled venue in `OI_VENUES`;
    the TradFi sessions (`build_session_sources`) when `calendar` is given: the engine's,
    None where no engine runs (the Kafka ingest role, which polls open interest only).
    """
    out: list[RestPoll] = []
    if settings.sources.open_interest_poll:
        out += [
            open_interest_poll(settings, venue, metrics)
            for venue in OI_VENUES
            if venue in settings.sources.enabled
        ]
    if calendar is not None:
        out += build_session_sources(settings, calendar, metrics)
    return out


def open_interest_poll(
    settings: Settings, venue: str, metrics: SourceMetrics
) -> OpenInterestPoller:
    """Return the open-interest poller of `venue` (a key of `OI_VENUES`) as configured.

    Symbols: `watched_symbols`; host: ``sources.rest_override.<venue>``; each symbol once
    per ``sources.open_interest_poll_s``; failures in ``liqmon_rest_poll_errors_total``.
    """
    part = OI_VENUES[venue](settings.sources.rest_override.get(venue))
    return OpenInterestPoller(
        part, watched_symbols(settings, venue), settings.assets.classes,
        interval_s=settings.sources.open_interest_poll_s,
        timeout_s=settings.sources.rest_timeout_s,
        on_error=lambda endpoint, reason: metrics.poll_errors.labels(venue, endpoint, reason).inc(),
    )  # fmt: skip


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
