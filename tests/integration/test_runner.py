"""The shared runner against the scripted fake exchange (real sockets on loopback)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from prometheus_client import CollectorRegistry

from monitor.clock import SystemClock
from monitor.observability.source_metrics import SourceMetrics
from monitor.sources import _template
from monitor.sources.backoff import Backoff
from monitor.sources.base import Heartbeat, Instrument, InstrumentBook
from monitor.sources.health import SourceHealth
from monitor.sources.runner import ConnectionRunner, Deduplicator, RunnerPolicy, VenueContext
from tests.support.fake_exchange import Close, Expect, FakeExchange, Reject, Send, Stall
from tests.support.wait import run_until

pytestmark = pytest.mark.integration
GUARD_S = 20.0
BTC = Instrument("template", "BTCUSDT", "BTC-USDT-PERP", "BTC", "crypto", "USDT")


def frame(ts_ms: int, side: str = "sell", qty: str = "2") -> str:
    row = {"s": "BTCUSDT", "S": side, "q": qty, "p": "100.5", "T": ts_ms}
    return json.dumps({"topic": "liquidations.BTCUSDT", "data": [row]})


class Harness:
    def __init__(self, fx: FakeExchange, **stream_changes: object) -> None:
        self.registry = CollectorRegistry()
        self.health = SourceHealth(SourceMetrics(self.registry))
        stream = dataclasses.replace(_template.SPEC.streams[0], **stream_changes)
        self.venue = dataclasses.replace(_template.SPEC, streams=(stream,))
        self.health.register(self.venue, {"liquidations": 1})
        prices = dataclasses.replace(stream, name="prices", kind="prices")
        self.health.register(dataclasses.replace(self.venue, streams=(prices,)), {"prices": 1})
        self.events: list = []
        self.dedup = Deduplicator(self.events.extend)
        policy = RunnerPolicy(
            backoff=Backoff(initial_s=0.01, max_s=0.05, seed=1), open_timeout_s=2.0,
            ping_interval_s=None, endpoint_override=fx.url, rotation_margin_s=0.0,
            handover_timeout_s=2.0,
        )  # fmt: skip
        book = InstrumentBook("template", [BTC])
        ctx = VenueContext(self.venue, book, self.dedup, self.health, policy, SystemClock())
        self.runner = ConnectionRunner(ctx, stream, ["liquidations.BTCUSDT"], conn_id=0)

    def value(self, name: str, **labels: str) -> float:
        labels = {"exchange": "template", "stream": "liquidations", **labels}
        return self.registry.get_sample_value(name, labels) or 0.0

    async def run_until(self, predicate) -> None:
        await run_until(self.runner.run(), predicate, GUARD_S)


async def test_subscribes_parses_and_skips_garbage_without_dropping_the_connection():
    script = [
        Expect("liquidations.BTCUSDT"),
        Send(frame(1_000)),
        Send("{not json"),
        Send(b"\x00\xff binary garbage"),
        Send(frame(2_000, side="buy")),
        Stall(30),
    ]
    async with FakeExchange([script]) as fx:
        h = Harness(fx)
        await h.run_until(lambda: len(h.events) == 2)

    assert json.loads(fx.connections[0].received[0]) == {
        "op": "subscribe", "args": ["liquidations.BTCUSDT"],
    }  # fmt: skip
    assert [(e.position_side, e.ts_event_ns) for e in h.events] == [
        ("long", 1_000_000_000), ("short", 2_000_000_000),
    ]  # fmt: skip
    assert h.value("liqmon_parse_errors_total") == 2
    assert len(fx.connections) == 1  # garbage never dropped the connection
    h.health.flush("template")  # the venue's runner does this every FLUSH_S
    assert h.value("liqmon_ws_messages_received_total") == 4
    assert h.value("liqmon_source_up") == 1


async def test_reconnects_after_a_drop_resubscribes_and_dedups_the_replayed_snapshot():
    first = [Expect("subscribe"), Send(frame(1_000)), Close(1011, "server restart")]
    second = [Expect("subscribe"), Send(frame(1_000)), Send(frame(3_000)), Stall(30)]
    async with FakeExchange([first, second]) as fx:
        h = Harness(fx)
        await h.run_until(lambda: len(h.events) == 2 and len(fx.connections) == 2)

    assert all("subscribe" in c.received[0] for c in fx.connections)
    assert [e.ts_event_ns for e in h.events] == [1_000_000_000, 3_000_000_000]
    assert h.dedup.duplicates == 1
    assert h.value("liqmon_ws_reconnects_total", reason="error") == 1


async def test_reconnects_after_http_503():
    async with FakeExchange(
        [[Reject(503)], [Expect("subscribe"), Send(frame(5)), Stall(30)]]
    ) as fx:
        h = Harness(fx)
        await h.run_until(lambda: len(h.events) == 1)

    assert fx.handshakes == 2
    assert h.value("liqmon_ws_reconnects_total", reason="server_5xx") == 1


async def test_stalled_stream_is_declared_stale_and_reconnected():
    quiet = [Expect("subscribe"), Stall(30)]
    live = [Expect("subscribe"), Send(frame(7)), Stall(30)]
    async with FakeExchange([quiet, live]) as fx:
        h = Harness(fx, kind="prices", stale_after_s=0.3)
        await h.run_until(lambda: len(h.events) == 1)

    assert len(fx.connections) == 2
    assert h.value("liqmon_ws_reconnects_total", reason="stale") == 1


async def test_heartbeat_is_sent_on_schedule():
    async with FakeExchange([[Expect("subscribe"), Stall(30)]]) as fx:
        h = Harness(fx, heartbeat=Heartbeat(0.05, '{"op":"ping"}'))
        await h.run_until(
            lambda: sum('"ping"' in m for c in fx.connections for m in c.received) >= 3
        )

    assert len(fx.connections) == 1


async def test_rotation_opens_the_next_connection_first_and_loses_nothing():
    # Connection 1 delivers 1..3; connection 2 (opened before 1 closes) replays 3 and adds 4, 5.
    old = [
        Expect("subscribe"),
        Send(frame(1_000)),
        Send(frame(2_000)),
        Send(frame(3_000)),
        Stall(30),
    ]
    new = [
        Expect("subscribe"),
        Send(frame(3_000)),
        Send(frame(4_000)),
        Send(frame(5_000)),
        Stall(30),
    ]
    async with FakeExchange([old, new]) as fx:
        h = Harness(fx, max_age_s=1.0)
        await h.run_until(lambda: len(h.events) >= 5 and fx.connections[0].closed.is_set())

    assert [e.ts_event_ns // 1_000_000 for e in h.events] == [1_000, 2_000, 3_000, 4_000, 5_000]
    assert h.value("liqmon_ws_reconnects_total", reason="rotation") == 1
    assert h.value("liqmon_ws_reconnects_total", reason="error") == 0
    assert h.value("liqmon_ws_reconnects_total", reason="closed") == 0


async def test_quiet_liquidation_stream_is_kept_while_prices_are_also_silent():
    async with FakeExchange([[Expect("subscribe"), Stall(30)]]) as fx:
        h = Harness(fx, stale_after_s=0.1)
        h.runner.policy = dataclasses.replace(h.runner.policy, quiet_max_s=0.3)
        task = asyncio.create_task(h.runner.run())
        await asyncio.sleep(1.2)  # quiet for 4x quiet_max_s, but no price stream is alive
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert len(fx.connections) == 1
    assert h.value("liqmon_ws_reconnects_total", reason="stale") == 0


async def test_liquidation_stream_silent_while_prices_flow_is_declared_dead():
    async with FakeExchange([[Expect("subscribe"), Stall(30)]]) as fx:
        h = Harness(fx, stale_after_s=0.1)
        h.runner.policy = dataclasses.replace(h.runner.policy, quiet_max_s=0.3)

        async def prices_flowing():
            while True:
                h.health.frame("template", "prices", time.time_ns())
                await asyncio.sleep(0.02)

        feeder = asyncio.create_task(prices_flowing())
        try:
            await h.run_until(lambda: len(fx.connections) >= 2)
        finally:
            feeder.cancel()

    assert h.value("liqmon_ws_reconnects_total", reason="stale") >= 1  # withheld, not quiet
