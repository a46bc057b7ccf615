"""Per venue and stream health metrics (`SourceMetrics`); `monitor.sources.health` feeds them."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitor.bounds import REASONS

RECONNECT_REASONS: Final[tuple[str, ...]] = (
    "closed", "error", "stale", "server_5xx", "rejected", "rotation",
)  # fmt: skip


_POLLED: Final = (
    ("binance_usdm", "openInterest"), ("binance_usdm", "premiumIndex"),
    ("binance_usdm", "tradingSchedule"), ("binance_coinm", "openInterest"),
    ("binance_coinm", "premiumIndex"), ("binance_coinm", "exchangeInfo"),
    ("htx", "swap_open_interest"),
)  # fmt: skip
"""(venue, endpoint) of every REST poll (`monitor.sources.polls`), counted from zero."""


class SourceMetrics:
    """Per venue and stream health: up, frames, last frame, reconnects, errors, lag."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, ["exchange", "stream"], registry=r)

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["exchange", "stream"], registry=r)

        self.up = gauge(
            "liqmon_source_up", "1 while every connection of the stream is open and subscribed."
        )
        self.connections = gauge("liqmon_ws_connections", "Open WebSocket connections.")
        self.subscriptions = gauge(
            "liqmon_ws_subscriptions", "Topics subscribed on open connections."
        )
        self.messages = counter("liqmon_ws_messages_received", "WebSocket frames read.")
        self.last_message = gauge(
            "liqmon_ws_last_message_timestamp_seconds", "Wall time of the last frame read."
        )
        self.reconnects = Counter(
            "liqmon_ws_reconnects", "Connection ends and failed connects, by reason.",
            ["exchange", "stream", "reason"], registry=r,
        )  # fmt: skip
        self.parse_errors = counter(
            "liqmon_parse_errors", "Frames that could not be parsed (skipped)."
        )
        self.lag = Histogram(
            "liqmon_event_lag_seconds",
            "Receive time minus venue event time; one event per stream every 10 ms (sampled).",
            ["exchange"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=r,
        )  # fmt: skip
        self.sampled_symbol_seconds = Counter(
            "liqmon_sampled_symbol_seconds",
            "Symbol-seconds that carried a liquidation on a sampled (1/s/symbol) stream: "
            "a saturated sampled stream is itself a burst signal.",
            ["exchange"], registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "liqmon_events_rejected",
            "Events out of bounds (time beyond sources.max_clock_skew_s, absurd price or size, "
            "bid above ask), dropped before the windows, by venue and reason.",
            ["exchange", "reason"], registry=r,
        )  # fmt: skip
        self.poll_errors = Counter(
            "liqmon_rest_poll_errors",
            "Failed REST polls (open interest, trading schedule), skipped and retried, by "
            "venue, endpoint (stream) and reason (http: network or status; parse: bad payload "
            "or a venue error).",
            ["exchange", "stream", "reason"], registry=r,
        )  # fmt: skip
        for venue, endpoint in _POLLED:  # exist at zero
            for reason in ("http", "parse"):
                self.poll_errors.labels(venue, endpoint, reason)
        self.folded = Counter(
            "liqmon_assets_folded",
            "Events of instruments beyond sources.max_unknown_instruments (unlisted, not "
            "watched): liquidations counted under the asset other, ticks dropped.",
            ["exchange", "type"], registry=r,
        )  # fmt: skip
        self.completeness = Gauge(
            "liqmon_source_completeness_info",
            "1 for the completeness each stream declares (exact or sampled).",
            ["exchange", "stream", "completeness"], registry=r,
        )  # fmt: skip

    def init_stream(self, exchange: str, stream: str, completeness: str) -> None:
        """Create every series of one stream at zero (called at start-up)."""
        for metric in (self.up, self.connections, self.subscriptions, self.messages,
                       self.last_message, self.parse_errors):  # fmt: skip
            metric.labels(exchange, stream)
        for reason in RECONNECT_REASONS:
            self.reconnects.labels(exchange, stream, reason)
        self.lag.labels(exchange)
        for reason in REASONS:
            self.rejected.labels(exchange, reason)
        for event in ("liquidation", "tick"):
            self.folded.labels(exchange, event)
        self.sampled_symbol_seconds.labels(exchange)
        self.completeness.labels(exchange, stream, completeness).set(1)
