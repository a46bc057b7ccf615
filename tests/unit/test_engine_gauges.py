"""The engine-state gauges are read from the engine when the registry is collected (a scrape).

No test here calls anything between feeding the engine and reading the registry: a value
that shows was read at scrape time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from monitor.aggregate.engine import Engine
from monitor.config import Settings
from monitor.events import SIDES, Liquidation, Tick
from monitor.observability.metrics import Metrics
from monitor.sessions.calendar import SESSION_TYPES, TRADFI_MARKETS
from monitor.synth import Burst, liquidations
from tests.support.synth import oi_unwind_ticks

NS = 1_000_000_000
T0 = 1_767_274_200  # 2026-01-01 13:30 UTC, a Thursday: New York is in its trading day
WINDOW = ("liqmon_window_liquidated_usd", "scope", "window", "position_side")


def parts() -> tuple[CollectorRegistry, Metrics, Engine]:
    settings = Settings()
    registry = CollectorRegistry()
    metrics = Metrics(registry, settings.assets.watch, settings.aggregate.windows_s)
    return registry, metrics, Engine(settings, metrics)


def window(registry: CollectorRegistry, scope: str, window_s: int, side: str) -> float | None:
    labels = {"scope": scope, "window": "%ds" % window_s, "position_side": side}
    return registry.get_sample_value(WINDOW[0], labels)


def liq(sec: float, asset: str, usd: float) -> Liquidation:
    ts = (T0 + int(sec)) * NS
    return Liquidation(
        exchange="bybit", symbol="%s-USDT-PERP" % asset, venue_symbol="%sUSDT" % asset,
        asset=asset, asset_class="crypto", position_side="long", price=1.0, qty=usd,
        notional_usd=usd, ts_event_ns=ts, ts_recv_ns=ts, event_id="%s-%s" % (asset, sec),
    )  # fmt: skip


def unwind() -> list[Tick]:
    """BTC on two venues every 10 s; from minute 60 its OI falls 8% and its price 3%."""
    return oi_unwind_ticks(T0)


def test_a_scrape_reads_the_windows_the_engine_holds_now() -> None:
    # Arrange
    registry, _, engine = parts()
    burst = (Burst("BTC", start_s=300, duration_s=60, rate_per_s=20.0),)
    events = list(liquidations(start_ns=T0 * NS, duration_s=600, rate_per_s=2.0, bursts=burst))

    # Act: feed the engine, nothing else, then scrape; twice
    engine.process(events[: len(events) // 2])
    first = window(registry, "BTC", 3600, "long")
    engine.process(events[len(events) // 2 :])
    second = window(registry, "BTC", 3600, "long")

    # Assert
    assert first is not None
    assert second is not None
    assert 0 < first < second
    assert second == engine.window_usd("asset", "BTC", 3600)[0]
    watermark = registry.get_sample_value("liqmon_watermark_timestamp_seconds")
    assert watermark == engine.closed_sec
    baseline, z, score = engine.burst_stats("asset", "BTC")
    assert score > 0
    assert registry.get_sample_value("liqmon_cascade_score_ratio", {"scope": "BTC"}) == score
    assert registry.get_sample_value("liqmon_window_zscore", {"scope": "BTC"}) == z
    assert registry.get_sample_value("liqmon_window_baseline_usd", {"scope": "BTC"}) == baseline


def test_other_is_the_market_less_the_watched_assets() -> None:
    # Arrange
    registry, _, engine = parts()

    # Act
    engine.process([liq(1, "BTC", 1000.0), liq(2, "PEPE", 300.0), liq(3, "WIF", 200.0)])
    engine.flush()

    # Assert
    assert window(registry, "BTC", 60, "long") == 1000.0
    assert window(registry, "market", 60, "long") == 1500.0
    assert window(registry, "other", 60, "long") == 500.0
    assert window(registry, "other", 60, "short") == 0.0


def test_drawdown_open_interest_drop_and_session_are_read_at_scrape() -> None:
    # Arrange
    registry, _, engine = parts()
    ticks = unwind()

    # Act: up to half way down the fall
    engine.process(ticks[: len(ticks) * 4 // 6])

    # Assert
    fall = engine.drawdowns(900)["BTC"]
    assert fall < 0
    shown = registry.get_sample_value(
        "liqmon_price_drawdown_ratio", {"scope": "BTC", "window": "900s"}
    )
    assert shown == fall
    drop = engine.oi_drop_pct()["BTC"]
    assert drop > 0
    assert registry.get_sample_value("liqmon_open_interest_drop_ratio", {"scope": "BTC"}) == (
        drop / 100.0
    )
    now = engine.sessions_now()
    for market in TRADFI_MARKETS:
        for session in SESSION_TYPES:
            labels = {"market": market, "session": session}
            value = registry.get_sample_value("liqmon_market_session_info", labels)
            assert value == (1.0 if now[market] == session else 0.0)


def test_every_series_is_there_at_zero_before_any_engine() -> None:
    # Arrange
    registry = CollectorRegistry()
    metrics = Metrics(registry, ("BTC", "XAU"), (10, 3600))

    # Act
    families = {f.name: f for f in registry.collect()}

    # Assert
    windows = families[WINDOW[0]].samples
    assert len(windows) == len(metrics.scopes) * 2 * len(SIDES)
    assert {tuple(s.labels) for s in windows} == {WINDOW[1:]}
    assert len(families["liqmon_price_drawdown_ratio"].samples) == len(metrics.scopes) * 2
    assert len(families["liqmon_open_interest_drop_ratio"].samples) == len(metrics.scopes) - 1
    sessions = families["liqmon_market_session_info"].samples
    assert len(sessions) == len(TRADFI_MARKETS) * len(SESSION_TYPES)
    for name in (WINDOW[0], "liqmon_window_zscore", "liqmon_market_session_info"):
        assert {s.value for s in families[name].samples} == {0.0}
    assert registry.get_sample_value("liqmon_watermark_timestamp_seconds") == 0.0


def test_the_newest_engine_on_the_metrics_is_the_one_read() -> None:
    # Arrange: the Kafka cross stage builds a new engine on the same metrics when it rebuilds
    registry, metrics, old = parts()
    old.process([liq(1, "BTC", 1000.0)])
    old.flush()
    assert window(registry, "BTC", 60, "long") == 1000.0

    # Act
    new = Engine(Settings(), metrics)
    new.process([liq(1, "BTC", 40.0)])
    new.flush()

    # Assert
    assert window(registry, "BTC", 60, "long") == 40.0
