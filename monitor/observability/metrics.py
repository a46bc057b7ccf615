"""Every liqmon metric, defined once.

A `Metrics` object owns its metrics on a registry it is given, so the daemon, each test and
each in-process app get their own. Labels come only from closed sets, and every known label
combination is created at start-up so dashboards show 0 rather than "no data".

Counts of what happened, and gauges of what the daemon does (queues, brokers), are pushed
where it happens. The gauges of engine state (sliding windows, burst baselines, drawdowns,
open-interest drops, market sessions, watermark) are read from the engine at scrape time
(`monitor.observability.engine_gauges`), so nothing is computed for them between scrapes.
"""

from __future__ import annotations

import platform
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitor import __version__
from monitor.events import (
    ALERT_KINDS,
    ASSET_CLASSES,
    EXCHANGES,
    SEVERITIES,
    SIDES,
    Alert,
    Event,
    Liquidation,
    MarginChange,
    Side,
    Tick,
)
from monitor.observability.engine_gauges import OTHER, EngineGauges, EngineView

_TYPE_NAMES: Final[dict[type, str]] = {
    Liquidation: "liquidation",
    Tick: "tick",
    MarginChange: "margin_change",
}

DROP_REASONS: Final[tuple[str, ...]] = ("queue_full", "late", "decode", "invalid")
ALERT_STATES: Final[tuple[str, ...]] = ("pending", "firing", "resolved")
EVENT_TYPES: Final[tuple[str, ...]] = ("liquidation", "tick", "margin_change")
BUSES: Final[tuple[str, ...]] = ("memory", "kafka")
SINKS: Final[tuple[str, ...]] = ("webhook", "slack", "discord", "telegram")
SINK_OUTCOMES: Final[tuple[str, ...]] = ("ok", "error", "timeout", "dropped", "suppressed")


def scope_labels(watch: Iterable[str]) -> tuple[str, ...]:
    """Return the closed set of ``scope`` label values: watched assets, classes, market, other."""
    return (*dict.fromkeys(watch), *ASSET_CLASSES, "market", OTHER)


class Metrics:
    """The metric catalogue, bound to one registry."""

    def __init__(
        self,
        registry: CollectorRegistry,
        watch: Sequence[str] = (),
        windows_s: Sequence[int] = (10, 60, 300, 900, 3600),
    ) -> None:
        self.registry = registry
        self.scopes = scope_labels(watch)
        self._scope_set = frozenset(self.scopes)
        self.windows_s = tuple(windows_s)
        r = registry
        self.build_info = Gauge(
            "liqmon_build_info",
            "Build identity; value is always 1.",
            ["version", "python"],
            registry=r,
        )
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.liquidations = Counter(
            "liqmon_liquidations",
            "Liquidations accepted by the aggregator.",
            ["exchange", "position_side"],
            registry=r,
        )
        self.notional = Counter(
            "liqmon_liquidated_notional_usd",
            "Liquidated notional accepted, in USD.",
            ["exchange", "position_side"],
            registry=r,
        )
        self.events = Counter(
            "liqmon_events",
            "Contract events taken by the aggregator, by type.",
            ["type"],
            registry=r,
        )
        self.dropped = Counter(
            "liqmon_events_dropped",
            "Events dropped, by reason (queue_full, late, decode; invalid: a batch refused).",
            ["reason"],
            registry=r,
        )
        self.late_events = Counter(
            "liqmon_late_events",
            "Events older than the watermark, by venue: counted in the first open second, "
            "or dropped beyond aggregate.allowed_lateness_ms.",
            ["exchange"],
            registry=r,
        )
        self.alerts = Counter(
            "liqmon_alerts",
            "Alert transitions, by kind, state and severity.",
            ["kind", "state", "severity"],
            registry=r,
        )
        self.alert_active = Gauge(
            "liqmon_alert_active",
            "Alerts firing now, by kind and scope (unwatched: other).",
            ["kind", "scope"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "liqmon_bus_queue_depth",
            "Events waiting in the fullest bus queue.",
            ["bus"],
            registry=r,
        )
        self.tick_seconds = Histogram(
            "liqmon_window_evaluation_duration_seconds",
            "Time to process one micro-batch: buckets, windows, detectors.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.margin_changes = Counter(
            "liqmon_margin_changes",
            "Margin requirement changes received, by asset class and direction.",
            ["asset_class", "direction"], registry=r,
        )  # fmt: skip
        self.margin_tightening = Gauge(
            "liqmon_margin_tightening_ratio",
            "D of the latest margin change per scope (1 - old/new; negative: loosening).",
            ["scope"], registry=r,
        )  # fmt: skip
        self.ingest_to_alert = Histogram(
            "liqmon_ingest_to_alert_seconds",
            "Wall time from receiving the newest frame of a batch to routing its alerts (live).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )  # fmt: skip
        self.alerts_sent = Counter(
            "liqmon_alerts_sent", "Alert deliveries by direct sinks, by sink and outcome.",
            ["sink", "outcome"], registry=r,
        )  # fmt: skip
        self.sink_queue = Gauge(
            "liqmon_alert_sink_queue_depth", "Alerts waiting in a direct sink's queue.",
            ["sink"], registry=r,
        )  # fmt: skip
        self.bus_deliveries = Counter(
            "liqmon_bus_deliveries", "Bus deliveries acknowledged, by bus and outcome.",
            ["bus", "outcome"], registry=r,
        )  # fmt: skip
        self.consumer_lag = Gauge(
            "liqmon_bus_consumer_lag_events", "Events behind the end of the input topics.",
            ["bus"], registry=r,
        )  # fmt: skip
        self.broker_up = Gauge(
            "liqmon_bus_broker_up",
            "1 while the bus's brokers acknowledge (or nothing is pending), 0 during an outage.",
            ["bus"], registry=r,
        )  # fmt: skip
        self.engine_gauges = EngineGauges(self.scopes, self.windows_s)
        r.register(self.engine_gauges)
        self._init_children()

    def _init_children(self) -> None:
        exchanges = (*EXCHANGES, OTHER)
        self._liq_children = {
            (x, s): (self.liquidations.labels(x, s), self.notional.labels(x, s))
            for x in exchanges
            for s in SIDES
        }
        self._late_children = {x: self.late_events.labels(x) for x in exchanges}
        for t in EVENT_TYPES:
            self.events.labels(t)
        for reason in DROP_REASONS:
            self.dropped.labels(reason)
        for bus in BUSES:
            self.queue_depth.labels(bus)
            self.consumer_lag.labels(bus)
            self.broker_up.labels(bus).set(1)
            for outcome in ("ok", "error"):
                self.bus_deliveries.labels(bus, outcome)
        for sink in SINKS:
            self.sink_queue.labels(sink)
            for outcome in SINK_OUTCOMES:
                self.alerts_sent.labels(sink, outcome)
        for cls in ASSET_CLASSES:
            for direction in ("tightening", "loosening"):
                self.margin_changes.labels(cls, direction)
        self._init_alert_and_window_children()

    def _init_alert_and_window_children(self) -> None:
        for kind in ALERT_KINDS:
            for state in ALERT_STATES:
                for sev in SEVERITIES:
                    self.alerts.labels(kind, state, sev)
            for scope in self.scopes:
                self.alert_active.labels(kind, scope)
        for scope in self.scopes:
            self.margin_tightening.labels(scope)

    def scope_label(self, scope: str) -> str:
        """Return `scope` if it is in the closed set, else ``other``."""
        return scope if scope in self._scope_set else OTHER

    def add_liquidations(self, exchange: str, side: Side, count: float, usd: float) -> None:
        """Add `count` liquidations worth `usd` for one venue and side (unknown venue: other)."""
        known = (exchange, side) in self._liq_children
        count_child, usd_child = self._liq_children[(exchange if known else OTHER, side)]
        count_child.inc(count)
        usd_child.inc(usd)

    def late(self, exchange: str, *, dropped: bool) -> None:
        """Count one late event; `dropped` (beyond the allowed lateness) also as dropped."""
        self._late_children.get(exchange, self._late_children[OTHER]).inc()
        if dropped:
            self.dropped.labels("late").inc()

    def observe_alert(self, alert: Alert, firing_delta: int) -> None:
        """Count a transition; `firing_delta` (+1/−1/0) moves the active gauge."""
        self.alerts.labels(alert.kind, alert.state, alert.severity).inc()
        if firing_delta:
            self.alert_active.labels(alert.kind, self.scope_label(alert.scope)).inc(firing_delta)

    def observe_margin_change(self, change: MarginChange) -> None:
        """Count a margin change and show its D on the asset's scope."""
        direction = "tightening" if change.tightening >= 0 else "loosening"
        self.margin_changes.labels(change.asset_class, direction).inc()
        self.margin_tightening.labels(self.scope_label(change.asset)).set(change.tightening)

    def observe_batch(self, batch: Sequence[Event], seconds: float) -> None:
        """Count one micro-batch's events by type and how long it took (`seconds`)."""
        for cls, n in Tally(map(type, batch)).items():
            name = _TYPE_NAMES.get(cls)
            if name is not None:
                self.events.labels(name).inc(n)
        self.tick_seconds.observe(seconds)

    def read_engine(self, engine: EngineView) -> None:
        """Read the engine-state gauges from `engine` at each scrape from now on.

        Called by `monitor.aggregate.engine.Engine` when it is built on these metrics: the
        newest engine is the one shown (the Kafka cross stage rebuilds its engine).
        """
        self.engine_gauges.engine = engine
