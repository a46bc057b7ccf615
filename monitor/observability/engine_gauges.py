"""The gauges of engine state, read from the engine when ``/metrics`` is scraped.

`EngineGauges` is a client_python custom collector: nothing is computed per micro-batch;
each scrape asks the engine for its sliding windows, burst baselines, drawdowns,
open-interest drops, market sessions and watermark. The engine it reads is the newest one
built on the `monitor.observability.metrics.Metrics` (``Metrics.read_engine``), so the
Kafka cross stage's rebuilt engine replaces the old one. Before any engine (and in a
process that has none, such as the Kafka ingest role) every series is 0.

Thread safety: the daemon renders ``/metrics`` in its aiohttp handler, on the event loop
thread the engine runs on, so a scrape sees the engine between two of its steps, never in
the middle of one. A scrape from another thread (``generate_latest`` in a test while the
daemon runs) has no such guarantee.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Final, Protocol

from prometheus_client.metrics_core import GaugeMetricFamily

from monitor.aggregate.windows.scopes import Level
from monitor.events import ASSET_CLASSES, SIDES
from monitor.sessions.calendar import SESSION_TYPES, TRADFI_MARKETS

OTHER: Final = "other"
WINDOW_USD: Final = (
    "liqmon_window_liquidated_usd",
    "Liquidated USD in the sliding window ending at the watermark, per scope.",
    ("scope", "window", "position_side"),
)
BASELINE: Final = (
    "liqmon_window_baseline_usd",
    "Baseline liquidated USD per minute (EWMA) of the burst detector, per scope.",
    ("scope",),
)
ZSCORE: Final = (
    "liqmon_window_zscore",
    "Robust z of the burst window's liquidated USD against its baseline (0 in warm-up).",
    ("scope",),
)
SCORE: Final = (
    "liqmon_cascade_score_ratio",
    "Burst window liquidated USD over the scope's USD floor (>= 1: the floor is met).",
    ("scope",),
)
DRAWDOWN: Final = (
    "liqmon_price_drawdown_ratio",
    "Fall of the price from its window high (<= 0), worst instrument of the asset.",
    ("scope", "window"),
)
OI_DROP: Final = (
    "liqmon_open_interest_drop_ratio",
    "Open-interest fall over the first deleveraging window (windows_s), from each "
    "instrument's high, as a share of the scope's open interest (0.05 = 5%), at the last "
    "evaluation.",
    ("scope",),
)
SESSION: Final = (
    "liqmon_market_session_info",
    "1 for the session each underlying market is in (published schedule, else the "
    "weekly New York template); 0 for the others.",
    ("market", "session"),
)
WATERMARK: Final = (
    "liqmon_watermark_timestamp_seconds",
    "Event time up to which windows are closed (epoch seconds).",
    (),
)
FAMILIES: Final = (WINDOW_USD, BASELINE, ZSCORE, SCORE, DRAWDOWN, OI_DROP, SESSION, WATERMARK)


class EngineView(Protocol):
    """What the gauges read from an engine (`monitor.aggregate.engine.Engine`)."""

    @property
    def closed_sec(self) -> int | None:
        """Every second below this is closed (epoch s); None before any data."""

    def window_usd(self, level: Level, key: str, window_s: int) -> tuple[float, float]:
        """Return (long USD, short USD) of one scope over `window_s`; zeros if unseen."""

    def burst_stats(self, level: Level, key: str) -> tuple[float, float, float]:
        """Return (baseline USD per minute, z, score) of one scope's burst window."""

    def drawdowns(self, window_s: int) -> Mapping[str, float]:
        """Return each asset's deepest fall from its window high (≤ 0); absent: none."""

    def oi_drop_pct(self) -> Mapping[str, float]:
        """Return each scope's open-interest drop (%) at its last evaluation."""

    def sessions_now(self) -> Mapping[str, str]:
        """Return each TradFi market's session at the newest event (empty before any)."""


def level_of(scope: str) -> Level:
    """Return the level of a labelled scope (not ``other``)."""
    if scope == "market":
        return "market"
    return "class" if scope in ASSET_CLASSES else "asset"


def _family(spec: tuple[str, str, tuple[str, ...]]) -> GaugeMetricFamily:
    name, documentation, labels = spec
    return GaugeMetricFamily(name, documentation, labels=labels)


class EngineGauges:
    """The engine-state gauge families for the closed `scopes` and `windows_s` (seconds).

    Every label set of the closed sets is there on each scrape, at 0 where nothing is known.
    """

    def __init__(self, scopes: Sequence[str], windows_s: Sequence[int]) -> None:
        self.scopes = tuple(scopes)
        self.windows_s = tuple(windows_s)
        self.engine: EngineView | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Yield the families without samples (the registry checks their names, once)."""
        return map(_family, FAMILIES)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield every family with one sample per label set; called on each scrape."""
        engine = self.engine
        yield self._windows(engine)
        yield from self._burst_stats(engine)
        yield self._drawdowns(engine)
        oi, session, watermark = _family(OI_DROP), _family(SESSION), _family(WATERMARK)
        drops = engine.oi_drop_pct() if engine is not None else {}
        for scope in self.scopes:
            if scope != OTHER:
                oi.add_metric([scope], drops.get(scope, 0.0) / 100.0)
        now = engine.sessions_now() if engine is not None else {}
        for market in TRADFI_MARKETS:
            for name in SESSION_TYPES:
                session.add_metric([market, name], 1.0 if now.get(market) == name else 0.0)
        closed = engine.closed_sec if engine is not None else None
        watermark.add_metric([], 0.0 if closed is None else float(closed))
        yield oi
        yield session
        yield watermark

    def _windows(self, engine: EngineView | None) -> GaugeMetricFamily:
        """``liqmon_window_liquidated_usd``; ``other`` is the market less the watched assets."""
        usd: dict[tuple[str, int], tuple[float, float]] = {}
        for w in self.windows_s:
            other = [0.0, 0.0]
            if engine is not None:
                other = list(engine.window_usd("market", "market", w))
            for scope in self.scopes:
                if scope == OTHER:
                    continue
                level = level_of(scope)
                pair = engine.window_usd(level, scope, w) if engine is not None else (0.0, 0.0)
                if level == "asset":
                    other[0] -= pair[0]
                    other[1] -= pair[1]
                usd[(scope, w)] = pair
            usd[(OTHER, w)] = (max(other[0], 0.0), max(other[1], 0.0))
        family = _family(WINDOW_USD)
        for scope in self.scopes:
            for w in self.windows_s:
                for side, value in zip(SIDES, usd[(scope, w)], strict=True):
                    family.add_metric([scope, "%ds" % w, side], value)
        return family

    def _burst_stats(self, engine: EngineView | None) -> tuple[GaugeMetricFamily, ...]:
        """The burst window's baseline, z and score per scope (``other``: 0)."""
        families = (_family(BASELINE), _family(ZSCORE), _family(SCORE))
        for scope in self.scopes:
            row = (0.0, 0.0, 0.0)
            if engine is not None and scope != OTHER:
                row = engine.burst_stats(level_of(scope), scope)
            for family, value in zip(families, row, strict=True):
                family.add_metric([scope], value)
        return families

    def _drawdowns(self, engine: EngineView | None) -> GaugeMetricFamily:
        """``liqmon_price_drawdown_ratio`` of each watched asset (other scopes: 0)."""
        family = _family(DRAWDOWN)
        falls = {w: engine.drawdowns(w) if engine is not None else {} for w in self.windows_s}
        for scope in self.scopes:
            is_asset = scope != OTHER and level_of(scope) == "asset"
            for w in self.windows_s:
                family.add_metric([scope, "%ds" % w], falls[w].get(scope, 0.0) if is_asset else 0.0)
        return family
