"""`/metrics` text rendered with cached prefixes is byte for byte `generate_latest`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor.aggregate.engine import Engine
from monitor.config import load
from monitor.observability.exposition import Exposition
from monitor.observability.metrics import Metrics
from monitor.observability.source_metrics import SourceMetrics
from monitor.synth import Burst, liquidations

T0_NS = 1_767_225_600 * 1_000_000_000


def full_registry():
    registry = CollectorRegistry()
    metrics = Metrics(registry, ("BTC", "XAU"), (10, 3600))
    sources = SourceMetrics(registry)
    sources.init_stream("binance_usdm", "liquidations", "sampled")
    sources.lag.labels("binance_usdm").observe(0.3)
    engine = Engine(load(None, env={}), metrics)  # its state gauges: read at each render
    burst = (Burst("BTC", start_s=300, duration_s=60, rate_per_s=20.0),)
    engine.process(list(liquidations(start_ns=T0_NS, duration_s=600, rate_per_s=2.0, bursts=burst)))
    metrics.add_liquidations("okx", "long", 3, 12_345_678.9)
    metrics.ingest_to_alert.observe(0.07)
    return registry, metrics


def test_daemon_catalogue_renders_exactly_as_generate_latest():
    # Arrange
    registry, _ = full_registry()

    # Act
    body = Exposition(registry).render()

    # Assert
    assert body == generate_latest(registry)


def test_values_changed_between_scrapes_show_in_the_next_render():
    # Arrange
    registry, metrics = full_registry()
    exposition = Exposition(registry)
    first = exposition.render()

    # Act
    metrics.add_liquidations("okx", "long", 2, 5.0)
    Engine(load(None, env={}), metrics)  # a new engine on the metrics, its windows empty
    second = exposition.render()

    # Assert
    assert second != first
    assert second == generate_latest(registry)


def test_label_values_and_help_that_need_escaping_match_generate_latest():
    # Arrange
    registry = CollectorRegistry()
    gauge = Gauge("odd", "help with \\ and\nnewline", ["path"], registry=registry)
    gauge.labels('a "quoted" \\ value\nline').set(float("inf"))
    gauge.labels("nan").set(float("nan"))
    Counter("plain_events", "a counter", registry=registry).inc(1e22)
    Histogram("lat_seconds", "h", buckets=(0.1, 1e7), registry=registry).observe(2e6)

    # Act
    body = Exposition(registry).render()

    # Assert
    assert body == generate_latest(registry)
