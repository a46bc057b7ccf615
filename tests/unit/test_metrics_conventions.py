"""Metric naming and label conventions, and the liquidation counters."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitor.events import EXCHANGES, Liquidation
from monitor.observability.metrics import Metrics

ALLOWED_LABELS = frozenset(
    {
        "exchange",
        "position_side",
        "stream",
        "reason",
        "sink",
        "outcome",
        "bus",
        "asset_class",
        "direction",
        "completeness",
        "kind",
        "severity",
        "scope",
        "state",
        "type",
        "window",
        "version",
        "python",
        "le",
        "market",  # EQUITY, COMMODITY
        "session",  # the five session types
    }
)
FORBIDDEN_LABELS = frozenset({"symbol", "url", "id", "alert_id", "event_id", "venue_symbol"})
# Base-unit (or unitless-by-convention) suffixes a non-counter metric name may end in.
ALLOWED_SUFFIXES = (
    "_seconds",
    "_bytes",
    "_ratio",
    "_usd",
    "_info",
    "_timestamp_seconds",
    "_depth",
    "_active",
    "_zscore",  # a z-score is unitless by definition
    "_events",  # a count of events (consumer lag), the unit named
    "_connections",  # a count of open connections
    "_subscriptions",  # a count of subscribed topics
    "_up",  # the Prometheus convention for 1/0 health
)
# Non-base units and misleading suffixes no metric name may end in.
FORBIDDEN_SUFFIXES = (
    "_ms",
    "_milliseconds",
    "_us",
    "_microseconds",
    "_ns",
    "_nanoseconds",
    "_minutes",
    "_hours",
    "_days",
    "_kb",
    "_mb",
    "_kbps",
    "_mbps",
    "_percent",
    "_pct",
)
LIQ = "liqmon_liquidations_total"
USD = "liqmon_liquidated_notional_usd_total"


@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def metrics(registry):
    from monitor.observability.source_metrics import SourceMetrics

    source = SourceMetrics(registry)  # the venue health catalogue obeys the same rules
    source.init_stream("binance_usdm", "liquidations", "sampled")
    return Metrics(registry, watch=("BTC",))


def families(registry):
    return list(registry.collect())


def liq(exchange, side, usd):
    return Liquidation(
        exchange=exchange,
        symbol="BTC-USDT-PERP",
        venue_symbol="BTCUSDT",
        asset="BTC",
        asset_class="crypto",
        position_side=side,
        price=50_000.0,
        qty=usd / 50_000.0,
        notional_usd=usd,
        ts_event_ns=1,
        ts_recv_ns=2,
        event_id="%s-%s-%s" % (exchange, side, usd),
    )


def test_registry_is_not_empty(metrics, registry):
    # Act
    names = {f.name for f in families(registry)}

    # Assert
    assert "liqmon_liquidations" in names
    assert "liqmon_build_info" in names
    assert len(names) >= 10


def test_every_metric_name_starts_with_liqmon(metrics, registry):
    # Act
    bad = [
        s.name
        for f in families(registry)
        for s in f.samples
        if not (f.name.startswith("liqmon_") and s.name.startswith("liqmon_"))
    ]

    # Assert
    assert bad == []


def test_counter_samples_end_in_total(metrics, registry):
    # Arrange
    counters = [f for f in families(registry) if f.type == "counter"]

    # Act
    bad = [
        s.name
        for f in counters
        for s in f.samples
        if not s.name.endswith("_total") and s.name != f.name + "_created"
    ]
    without_total = [
        f.name for f in counters if not any(s.name == f.name + "_total" for s in f.samples)
    ]

    # Assert
    assert len(counters) >= 5
    assert bad == []
    assert without_total == []


def test_names_ending_in_total_are_counters(metrics, registry):
    # Act
    bad = [
        (f.name, f.type)
        for f in families(registry)
        if f.type != "counter" and any(s.name.endswith("_total") for s in f.samples)
    ]

    # Assert
    assert bad == []


def test_no_metric_name_uses_a_non_base_unit(metrics, registry):
    # Act
    bad = [f.name for f in families(registry) if f.name.endswith(FORBIDDEN_SUFFIXES)]

    # Assert
    assert bad == []


def test_counter_names_do_not_end_in_count(metrics, registry):
    # Act
    bad = [
        f.name
        for f in families(registry)
        if f.type == "counter" and f.name.endswith(("_count", "_counter"))
    ]

    # Assert
    assert bad == []


def test_gauges_and_histograms_end_in_a_base_unit_suffix(metrics, registry):
    # Act
    bad = [
        f.name
        for f in families(registry)
        if f.type != "counter" and not f.name.endswith(ALLOWED_SUFFIXES)
    ]

    # Assert
    assert bad == []


def test_label_names_come_from_the_allow_list(metrics, registry):
    # Act
    labels = {name for f in families(registry) for s in f.samples for name in s.labels}

    # Assert
    assert labels - ALLOWED_LABELS == set()
    assert labels & FORBIDDEN_LABELS == set()
    assert {"exchange", "position_side", "scope", "window"} <= labels


def test_liquidation_counters_start_at_zero_for_every_known_combination(metrics, registry):
    # Act
    values = {
        (x, side): registry.get_sample_value(LIQ, {"exchange": x, "position_side": side})
        for x in (*EXCHANGES, "other")
        for side in ("long", "short")
    }

    # Assert
    assert (
        registry.get_sample_value(LIQ, {"exchange": "binance_usdm", "position_side": "long"}) == 0.0
    )
    assert set(values.values()) == {0.0}
    assert (
        registry.get_sample_value(USD, {"exchange": "binance_usdm", "position_side": "long"}) == 0.0
    )


def test_build_info_is_one(metrics, registry):
    # Act
    samples = [s for f in families(registry) if f.name == "liqmon_build_info" for s in f.samples]

    # Assert
    assert len(samples) == 1
    assert samples[0].value == 1.0
    assert set(samples[0].labels) == {"version", "python"}


def test_add_liquidations_moves_count_and_notional(metrics, registry):
    # Arrange
    events = [liq("binance_usdm", "long", 1_000.0), liq("binance_usdm", "long", 2_500.5)]

    # Act
    observe(metrics, events)
    observe(metrics, [liq("binance_usdm", "short", 10.0)])

    # Assert
    long_labels = {"exchange": "binance_usdm", "position_side": "long"}
    short_labels = {"exchange": "binance_usdm", "position_side": "short"}
    assert registry.get_sample_value(LIQ, long_labels) == 2.0
    assert registry.get_sample_value(USD, long_labels) == 3_500.5
    assert registry.get_sample_value(LIQ, short_labels) == 1.0
    assert registry.get_sample_value(USD, short_labels) == 10.0
    assert registry.get_sample_value(LIQ, {"exchange": "bybit", "position_side": "long"}) == 0.0


def test_unknown_exchange_is_counted_as_other(metrics, registry):
    # Act
    observe(metrics, [liq("some_new_dex", "short", 42.0)])

    # Assert
    other = {"exchange": "other", "position_side": "short"}
    assert registry.get_sample_value(LIQ, other) == 1.0
    assert registry.get_sample_value(USD, other) == 42.0
    assert (
        registry.get_sample_value(LIQ, {"exchange": "some_new_dex", "position_side": "short"})
        is None
    )


def test_late_unknown_exchange_is_counted_as_other(metrics, registry):
    # Act
    metrics.late("some_new_dex", dropped=True)
    metrics.late("okx", dropped=False)

    # Assert
    assert registry.get_sample_value("liqmon_late_events_total", {"exchange": "other"}) == 1.0
    assert registry.get_sample_value("liqmon_late_events_total", {"exchange": "okx"}) == 1.0
    assert registry.get_sample_value("liqmon_events_dropped_total", {"reason": "late"}) == 1.0


@pytest.mark.parametrize(
    ("scope", "label"),
    [
        ("BTC", "BTC"),
        ("DOGE", "other"),
        ("ETH", "other"),
        ("metal", "metal"),
        ("market", "market"),
        ("other", "other"),
    ],
)
def test_scope_label(metrics, scope, label):
    # Act / Assert
    assert metrics.scope_label(scope) == label


def test_scope_values_are_a_closed_set(metrics):
    # Act / Assert
    assert metrics.scopes == (
        "BTC",
        "crypto",
        "metal",
        "equity",
        "index",
        "energy",
        "fx",
        "market",
        "other",
    )


def observe(metrics, events):
    for e in events:
        metrics.add_liquidations(e.exchange, e.position_side, 1, e.notional_usd)
