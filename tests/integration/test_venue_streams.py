"""Binance, Bybit and OKX liquidation streams through the real runner and the fake exchange.

Each venue's real fixture frame is played; variants shift its 13-digit millisecond times
so events differ. Shown per venue: the subscription as the venue expects it, events parsed,
garbage counted and skipped on the same connection, reconnect after a drop, after HTTP 503
and after a stall (with resubscription), and rotation with nothing lost or doubled.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from prometheus_client import CollectorRegistry

from monitor.clock import SystemClock
from monitor.observability.source_metrics import SourceMetrics
from monitor.sources import SOURCES
from monitor.sources.backoff import Backoff
from monitor.sources.base import InstrumentBook
from monitor.sources.health import SourceHealth
from monitor.sources.runner import ConnectionRunner, Deduplicator, RunnerPolicy, VenueContext
from tests.conftest import FIXTURES
from tests.support.fake_exchange import Close, Expect, FakeExchange, Reject, Send, Stall
from tests.support.wait import run_until

pytestmark = pytest.mark.integration
GUARD_S = 20.0

VENUES = {
    # venue: (stream, fixture, symbols for the book, expected in path or subscribe message)
    "binance_usdm": ("liquidations", "forceOrder_combined.json", ["BTCUSDT"],
                     "/market/stream?streams=!forceOrder@arr"),
    "bybit": ("liquidations_linear", "allLiquidation_linear.json", ["BTCUSDT"],
              '"allLiquidation.BTCUSDT"'),
    "okx": ("liquidations", "liquidation-orders_swap.json", ["BTC-USDT-SWAP"],
            '{"channel":"liquidation-orders","instType":"SWAP"}'),
}  # fmt: skip


def frame(venue: str, shift_s: int = 0) -> str:
    text = (FIXTURES / "payloads" / venue / VENUES[venue][1]).read_text().strip()
    return re.sub(r"(?<!\d)(1\d{12})(?!\d)", lambda m: str(int(m.group(1)) + shift_s * 1000), text)


def subscribed(venue: str) -> list:
    """The first step: the venue's subscription must arrive (URL-carried for Binance)."""
    expected = VENUES[venue][3]
    return [] if expected.startswith("/") else [Expect(expected)]


class Harness:
    def __init__(self, venue_id: str, fx: FakeExchange, **changes: object) -> None:
        stream_name, _, symbols, _ = VENUES[venue_id]
        venue = SOURCES[venue_id]
        stream = next(s for s in venue.streams if s.name == stream_name)
        stream = dataclasses.replace(stream, **changes)
        self.venue = dataclasses.replace(venue, streams=(stream,))
        self.registry = CollectorRegistry()
        self.health = SourceHealth(SourceMetrics(self.registry))
        self.health.register(self.venue, {stream.name: 1})
        self.events: list = []
        self.dedup = Deduplicator(self.events.extend)
        book = InstrumentBook(
            venue_id, [venue.fallback(s, {}) for s in symbols], {}, venue.fallback
        )
        policy = RunnerPolicy(
            backoff=Backoff(initial_s=0.01, max_s=0.05, seed=1), open_timeout_s=2.0,
            ping_interval_s=None, endpoint_override=fx.url, rotation_margin_s=0.0,
            handover_timeout_s=2.0,
        )  # fmt: skip
        ctx = VenueContext(self.venue, book, self.dedup, self.health, policy, SystemClock())
        topics = stream.topics(book.all())
        self.runner = ConnectionRunner(ctx, stream, topics, conn_id=0)
        self.labels = {"exchange": venue_id, "stream": stream.name}

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, {**self.labels, **labels}) or 0.0

    async def run_until(self, predicate) -> None:
        await run_until(self.runner.run(), predicate, GUARD_S)


@pytest.fixture(params=sorted(VENUES))
def venue(request) -> str:
    return request.param


async def test_subscription_events_and_garbage(venue):
    script = [
        *subscribed(venue),
        Send(frame(venue)),
        Send("garbage {"),
        Send(frame(venue, 1)),
        Stall(30),
    ]
    async with FakeExchange([script]) as fx:
        h = Harness(venue, fx)
        per_frame = len(h.runner.stream.make_parser(h.runner.book).parse(frame(venue), 1))
        await h.run_until(lambda: len(h.events) == 2 * per_frame)

    conn = fx.connections[0]
    expected = VENUES[venue][3]
    assert expected in conn.path if expected.startswith("/") else expected in conn.received[0]
    assert all(e.exchange == venue and e.notional_usd > 0 for e in h.events)
    assert h.value("liqmon_parse_errors_total") == 1
    assert len(fx.connections) == 1


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ([Close(1011, "restart")], "error"),
        ([Reject(503)], "server_5xx"),
        ([Stall(30)], "stale"),
    ],
    ids=["drop", "http503", "stall"],
)
async def test_reconnects_and_resubscribes(venue, first, reason):
    lead = [] if isinstance(first[0], Reject) else subscribed(venue)
    again = [*subscribed(venue), Send(frame(venue, 5)), Stall(30)]
    async with FakeExchange([[*lead, *first], again]) as fx:
        h = (
            Harness(venue, fx, stale_after_s=0.3, kind="prices")
            if reason == "stale"
            else Harness(venue, fx)
        )
        await h.run_until(lambda: len(h.events) >= 1)

    assert h.value("liqmon_ws_reconnects_total", reason=reason) == 1
    opened = list(fx.connections)
    assert len(opened) == (1 if reason == "server_5xx" else 2)
    expected = VENUES[venue][3]
    last = opened[-1]
    assert expected in last.path if expected.startswith("/") else expected in last.received[0]


async def test_rotation_loses_nothing_and_doubles_nothing(venue):
    old = [*subscribed(venue), Send(frame(venue, 0)), Send(frame(venue, 1)), Stall(30)]
    new = [*subscribed(venue), Send(frame(venue, 1)), Send(frame(venue, 2)), Stall(30)]
    async with FakeExchange([old, new]) as fx:
        h = Harness(venue, fx, max_age_s=1.0)
        per_frame = len(h.runner.stream.make_parser(h.runner.book).parse(frame(venue), 1))
        await h.run_until(
            lambda: len(h.events) >= 3 * per_frame and fx.connections[0].closed.is_set()
        )

    ids = [e.event_id for e in h.events]
    assert len(ids) == len(set(ids)) == 3 * per_frame  # frames 0, 1, 2: none lost, none twice
    assert h.dedup.duplicates == per_frame  # frame 1 came on both connections
    assert h.value("liqmon_ws_reconnects_total", reason="rotation") == 1
