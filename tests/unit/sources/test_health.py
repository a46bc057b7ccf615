from prometheus_client import CollectorRegistry

from monitor.events import Liquidation
from monitor.observability.source_metrics import SourceMetrics
from monitor.sources import SOURCES
from monitor.sources.health import SourceHealth

NS = 1_000_000_000


def liq(symbol: str, sec: float) -> Liquidation:
    return Liquidation(
        exchange="binance_usdm", symbol=symbol, venue_symbol=symbol, asset="BTC",
        asset_class="crypto", position_side="long", price=1.0, qty=1.0, notional_usd=1.0,
        ts_event_ns=int(sec * NS), ts_recv_ns=int(sec * NS) + NS // 2, event_id=f"{symbol}{sec}",
        completeness="sampled",
    )  # fmt: skip


def test_sampled_stream_counts_symbol_seconds_and_lag():
    registry = CollectorRegistry()
    health = SourceHealth(SourceMetrics(registry))
    health.register(SOURCES["binance_usdm"], {"liquidations": 1, "prices": 1})

    # two symbols in second 10, one of them twice; one symbol in second 11
    events = [liq("A", 10.1), liq("A", 10.9), liq("B", 10.5), liq("A", 11.2)]
    health.events("binance_usdm", "liquidations", events, ts_recv_ns=12 * NS)

    value = registry.get_sample_value
    assert value("liqmon_sampled_symbol_seconds_total", {"exchange": "binance_usdm"}) == 3
    assert value("liqmon_event_lag_seconds_count", {"exchange": "binance_usdm"}) == 1  # sampled
    assert (
        value(
            "liqmon_source_completeness_info",
            {"exchange": "binance_usdm", "stream": "liquidations", "completeness": "sampled"},
        )
        == 1
    )


def test_exact_stream_does_not_count_saturation():
    registry = CollectorRegistry()
    health = SourceHealth(SourceMetrics(registry))
    health.register(SOURCES["bybit"], {})

    health.events("bybit", "liquidations_linear", [liq("A", 1.0)], ts_recv_ns=2 * NS)

    assert (
        registry.get_sample_value("liqmon_sampled_symbol_seconds_total", {"exchange": "bybit"}) == 0
    )


def test_readiness_lines_say_up_or_down_and_why():
    health = SourceHealth(SourceMetrics(CollectorRegistry()))
    health.register(SOURCES["okx"], {"liquidations": 1, "prices": 2})

    health.connected("okx", "liquidations", 0, 2)
    health.connected("okx", "prices", 1, 10)
    health.disconnected("okx", "prices", 2, "stale", None)

    assert health.checks() == {
        "okx/liquidations": "up (1 connections)",
        "okx/prices": "down (stale)",  # one of its two connections is missing
    }
    assert health.any_up()


def test_readiness_says_the_error_text_bounded_and_without_credentials():
    health = SourceHealth(SourceMetrics(CollectorRegistry()))
    health.register(SOURCES["okx"], {"liquidations": 1, "prices": 1})
    error = OSError("[Errno -2] Name or service not known: wss://user:pw@ws.example/x")
    health.disconnected("okx", "liquidations", 0, "error", error)
    health.disconnected("okx", "prices", 1, "error", ValueError("x" * 1000))

    checks = health.checks()

    assert checks["okx/liquidations"] == (
        "down (error: [Errno -2] Name or service not known: wss://***@ws.example/x)"
    )
    assert len(checks["okx/prices"]) < 220


def test_lag_takes_one_event_per_stream_every_10_ms():
    registry = CollectorRegistry()
    health = SourceHealth(SourceMetrics(registry))
    health.register(SOURCES["bybit"], {})
    ms = 1_000_000

    for at_ms in (1000, 1005, 1009, 1010, 1030):
        health.events("bybit", "liquidations_linear", [liq("A", 1.0)], ts_recv_ns=NS + at_ms * ms)

    labels = {"exchange": "bybit"}
    assert registry.get_sample_value("liqmon_event_lag_seconds_count", labels) == 3


def test_frames_reach_the_metrics_in_batches_and_when_a_connection_ends():
    registry = CollectorRegistry()
    health = SourceHealth(SourceMetrics(registry))
    health.register(SOURCES["bybit"], {"liquidations_linear": 1})
    labels = {"exchange": "bybit", "stream": "liquidations_linear"}
    ms = 1_000_000

    def frames() -> float | None:
        return registry.get_sample_value("liqmon_ws_messages_received_total", labels)

    health.frame("bybit", "liquidations_linear", 1000 * ms)  # first frame: flushed
    for at_ms in (1010, 1020, 1040):
        health.frame("bybit", "liquidations_linear", at_ms * ms)
    assert frames() == 1
    health.frame("bybit", "liquidations_linear", 1050 * ms)  # 50 ms after the last flush
    assert frames() == 5
    assert registry.get_sample_value("liqmon_ws_last_message_timestamp_seconds", labels) == 1.05
    health.frame("bybit", "liquidations_linear", 1060 * ms)
    health.disconnected("bybit", "liquidations_linear", 0, "closed", None)
    assert frames() == 6
