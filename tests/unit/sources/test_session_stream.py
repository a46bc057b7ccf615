"""Binance's ``tradingSession`` stream through the fake exchange (a real WebSocket server).

The pushes are the documented ``EquityUpdate`` example and a ``CommodityUpdate`` of the same
shape (tests/fixtures/sessions); a halt is the equity push with a NO_TRADING session over
the template's REGULAR hours. A session change reaches the calendar, and the detection
guard, without waiting for the next schedule fetch.
"""

import asyncio
import json

from prometheus_client import CollectorRegistry

from monitor.config import load
from monitor.observability.source_metrics import SourceMetrics
from monitor.sessions.calendar import SessionCalendar, template_session
from monitor.sessions.guard import SessionGuard
from monitor.sessions.settings import SessionSettings
from monitor.sessions.stream import SessionStream
from monitor.sources.backoff import Backoff
from monitor.sources.oi_poll import OpenInterestPoller
from monitor.sources.polls import build_rest_polls, build_session_sources
from tests.conftest import FIXTURES
from tests.support.fake_exchange import Close, FakeExchange, Send, Stall
from tests.support.wait import run_until

NS = 1_000_000_000
MS = 1_000_000
EQUITY = (FIXTURES / "sessions" / "tradingSession_equity.json").read_text().strip()
COMMODITY = (FIXTURES / "sessions" / "tradingSession_commodity.json").read_text().strip()
NOON = 1765299600000  # 2025-12-09 12:00 New York: REGULAR by the template


def halt() -> str:
    push = json.loads(EQUITY)
    push.update(t=NOON - 3600_000, T=NOON + 3600_000, S="NO_TRADING")
    return json.dumps(push)


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, {"exchange": "binance_usdm", **labels})
    return 0.0 if found is None else found


async def test_pushes_reach_the_calendar_once_per_change_and_a_halt_closes_the_market():
    calendar = SessionCalendar()
    guard = SessionGuard(calendar, SessionSettings(), {"TSLA": "equity"})
    registry = CollectorRegistry()
    first = [Send(EQUITY), Send(EQUITY), Send("{not json"), Send(COMMODITY), Close()]
    second = [Send(EQUITY), Send(halt()), Stall(30.0)]
    async with FakeExchange([first, second]) as fx:
        stream = SessionStream(
            calendar, endpoint_override=fx.url, metrics=SourceMetrics(registry),
            backoff=Backoff(0.01, 0.01), sleep=no_sleep,
        )  # fmt: skip
        assert not guard.closed("EQUITY", NOON * MS)  # the template: REGULAR
        await run_until(stream.run(None), lambda: stream.changes == 3, 10.0)

    assert [c.path for c in fx.connections] == ["/market/ws/tradingSession"] * 2
    assert fx.connections[0].received == []  # the stream is in the path: nothing sent
    equity = json.loads(EQUITY)
    assert calendar.session_at("EQUITY", equity["t"] * MS) == "OVERNIGHT"
    assert calendar.session_at("COMMODITY", json.loads(COMMODITY)["t"] * MS) == "REGULAR"
    assert template_session("EQUITY", NOON * MS) == "REGULAR"
    assert calendar.session_at("EQUITY", NOON * MS) == "NO_TRADING"  # the halt, at once
    assert guard.closed("EQUITY", NOON * MS)  # detection follows the calendar's version
    assert (stream.changes, stream.parse_errors) == (3, 1)  # repeats change nothing
    assert value(registry, "liqmon_ws_messages_received_total", stream="tradingSession") == 6
    assert value(registry, "liqmon_parse_errors_total", stream="tradingSession") == 1
    closed = value(registry, "liqmon_ws_reconnects_total", stream="tradingSession", reason="closed")
    assert closed == 1


async def test_a_silent_stream_is_reconnected_as_stale():
    registry = CollectorRegistry()
    async with FakeExchange([[Send(EQUITY), Stall(30.0)]]) as fx:
        stream = SessionStream(
            SessionCalendar(), endpoint_override=fx.url, metrics=SourceMetrics(registry),
            stale_after_s=0.2, backoff=Backoff(0.01, 0.01), sleep=no_sleep,
        )  # fmt: skip
        await run_until(stream.run(None), lambda: len(fx.connections) >= 2, 10.0)

    stale = value(registry, "liqmon_ws_reconnects_total", stream="tradingSession", reason="stale")
    assert stale >= 1
    assert stream.changes == 1  # the same session again after reconnecting: no change


def test_the_sources_follow_the_config(tmp_path):
    settings = load(None, env={}, overrides={"state.dir": str(tmp_path)})
    metrics = SourceMetrics(CollectorRegistry())
    calendar = SessionCalendar()

    kinds = [type(s).__name__ for s in build_session_sources(settings, calendar, metrics)]
    assert kinds == ["ScheduleWatcher", "SessionStream"]
    assert {type(s).__name__ for s in build_rest_polls(settings, calendar, metrics)} >= {
        "ScheduleWatcher",
        "SessionStream",
    }
    assert all(s.calendar is calendar for s in build_session_sources(settings, calendar, metrics))
    off = load(None, env={}, overrides={"sessions.stream_sessions": False})
    assert [type(s).__name__ for s in build_session_sources(off, calendar, metrics)] == [
        "ScheduleWatcher"
    ]
    assert build_session_sources(load(None, env={}, overrides={"sessions.enabled": False}),
                                 calendar, metrics) == []  # fmt: skip
    polls = build_rest_polls(settings, None, metrics)  # the default venues: two poll OI
    assert all(isinstance(s, OpenInterestPoller) for s in polls)
    assert [s.venue.name for s in polls if isinstance(s, OpenInterestPoller)] == [
        "binance_usdm",
        "binance_coinm",
    ]
