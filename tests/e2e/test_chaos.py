"""Hostile frames from a venue, sent by the fake exchange to the running daemon: huge and
future times, absurd prices and sizes, garbage frames, a killed connection, unknown
instruments beyond the cap; a deep HTX ping and a stall at the hook and health level (the
same two through the running daemon, and a firing alert under hostile frames, are in
test_chaos_daemon.py).

Each case must leave the daemon up, its windows finite and its watermark at the present,
the bad event counted (``liqmon_events_rejected_total``) and the good events after it
taken as usual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import math
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.errors import ParseError
from monitor.observability.source_metrics import SourceMetrics
from monitor.runtime.embedded import run_app
from monitor.sources import SOURCES
from monitor.sources.backoff import Backoff
from monitor.sources.frames import reply_to
from monitor.sources.health import SourceHealth
from monitor.sources.runner import RunnerPolicy
from tests.support.chaos import SERIAL, force_order, settings_for
from tests.support.fake_exchange import FakeExchange, Kill, Send, SendNow, Stall
from tests.support.wait import until

GUARD_S = 30.0


HOSTILE = {
    "huge time": (lambda: force_order(t_ms=9_999_999_999_999), "time"),
    "future time": (lambda: force_order(t_ms=4_102_444_800_000), "time"),  # 2100-01-01
    "absurd price": (lambda: force_order(price="1.7e%d" % (300 + next(SERIAL) % 8)), "price"),
    "absurd notional": (lambda: force_order(qty="%d" % (10**12 + next(SERIAL))), "size"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_hostile_liquidation_is_counted_and_the_daemon_goes_on(case: str, tmp_path) -> None:
    make_bad, reason = HOSTILE[case]
    script = [SendNow(force_order), SendNow(make_bad), SendNow(make_bad), SendNow(force_order)]
    routes = {"forceOrder": [[*script, Stall(60)]], "markPrice": [[Stall(60)]]}
    policy = RunnerPolicy(backoff=Backoff(0.01, 0.05, seed=1), ping_interval_s=None)
    async with (
        FakeExchange([[Stall(60)]], routes=routes) as fx,
        run_app(
            settings_for(tmp_path, fx.url), venues=[SOURCES["binance_usdm"]], policy=policy
        ) as app,
    ):
        rejected = app.health.metrics.rejected.labels("binance_usdm", reason)
        liquidations = app.metrics.events.labels("liquidation")
        await until(lambda: rejected._value.get() >= 2 and liquidations._value.get() >= 2, GUARD_S)
        engine = app.engine
        running = app.started and not app.pipeline_done.is_set()
        max_ts = engine.max_ts_ns
        sums_finite = all(math.isfinite(float(v)) for v in engine.liq.sums.ravel())

    assert running
    assert rejected._value.get() == 2
    assert app.metrics.events.labels("liquidation")._value.get() == 2  # both good ones
    assert max_ts is not None
    assert abs(max_ts - time.time_ns()) < 120 * 10**9  # the watermark stayed at the present
    assert sums_finite


def test_a_deep_htx_ping_is_a_parse_error_not_a_crash() -> None:
    htx = SOURCES["htx"]
    stream = htx.streams[0]
    deep = '{"ping": ' + "[" * 1000 + "]" * 1000 + "}"
    frame = stream.decode(gzip.compress(deep.encode())) if stream.decode else deep
    with pytest.raises(ParseError, match="reply hook failed"):
        reply_to("htx", stream, frame)
    ping = stream.decode(gzip.compress(b'{"ping": 1492420473027}')) if stream.decode else ""
    assert reply_to("htx", stream, ping) is not None  # an ordinary ping still gets its pong


async def test_a_stalled_venue_makes_readiness_say_so() -> None:
    venue = SOURCES["bybit"]
    quick = dataclasses.replace(
        venue, streams=tuple(dataclasses.replace(s, stale_after_s=0.2) for s in venue.streams)
    )
    health = SourceHealth(SourceMetrics(CollectorRegistry()))
    health.register(quick, {s.name: 1 for s in quick.streams})
    for i, stream in enumerate(quick.streams):
        health.connected("bybit", stream.name, i, 1)
        health.frame("bybit", stream.name, time.time_ns())
    assert health.any_up()
    await asyncio.sleep(0.3)  # connected, but nothing arrives
    assert not health.any_up()
    assert all(v.startswith("stalled (no frame for") for v in health.checks().values())


GARBAGE: list[str | bytes] = [
    b"\x00\xff\x13binary junk",  # a binary frame on a text stream
    "not json at all",
    '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT"',  # cut
    '{"stream":"!forceOrder@arr","data":' + "[" * 5000 + "]" * 5000 + "}",
    '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1,"o":' + "{}" * 100_000 + "}}",
    b'{"stream":"!forceOrder@arr","data":"\xff\xfe not UTF-8"}',
    '{"stream": null, "data": [1, 2, 3]}',
]


def app_for(tmp_path: Path, fx: FakeExchange, **extra: object):
    policy = RunnerPolicy(backoff=Backoff(0.01, 0.05, seed=1), ping_interval_s=None)
    settings = settings_for(tmp_path, fx.url, **extra)
    return run_app(settings, venues=[SOURCES["binance_usdm"]], policy=policy)


async def test_garbage_frames_are_parse_errors_and_the_daemon_goes_on(tmp_path) -> None:
    script = [SendNow(force_order), *(Send(g) for g in GARBAGE), SendNow(force_order)]
    routes = {"forceOrder": [[*script, Stall(60)]], "markPrice": [[Stall(60)]]}
    async with FakeExchange([[Stall(60)]], routes=routes) as fx, app_for(tmp_path, fx) as app:
        errors = app.health.metrics.parse_errors.labels("binance_usdm", "liquidations")
        liquidations = app.metrics.events.labels("liquidation")
        await until(lambda: liquidations._value.get() >= 2, GUARD_S)
        running = app.started and not app.pipeline_done.is_set()
        connections = len(fx.connections)

    assert running
    assert errors._value.get() == len(GARBAGE)
    assert liquidations._value.get() == 2
    assert connections == 2  # garbage does not cost the connection (one per stream)


async def test_a_killed_connection_reconnects_and_loses_nothing(tmp_path) -> None:
    first = [SendNow(force_order), Kill()]
    second = [SendNow(force_order), Stall(60)]
    routes = {"forceOrder": [first, second], "markPrice": [[Stall(60)]]}
    async with FakeExchange([[Stall(60)]], routes=routes) as fx, app_for(tmp_path, fx) as app:
        liquidations = app.metrics.events.labels("liquidation")
        await until(lambda: liquidations._value.get() >= 2, GUARD_S)
        running = app.started and not app.pipeline_done.is_set()
        reconnects = app.health.metrics.reconnects
        ended = sum(
            reconnects.labels("binance_usdm", "liquidations", r)._value.get()
            for r in ("closed", "error")
        )

    assert running
    assert liquidations._value.get() == 2  # one per connection, neither lost
    assert ended >= 1


async def test_unknown_instruments_beyond_the_cap_fold_into_other(tmp_path) -> None:
    names = ["ZZ%dUSDT" % i for i in range(40)]
    script = [SendNow(lambda n=n: force_order(symbol=n)) for n in names]
    routes = {"forceOrder": [[*script, Stall(60)]], "markPrice": [[Stall(60)]]}
    async with (
        FakeExchange([[Stall(60)]], routes=routes) as fx,
        app_for(tmp_path, fx, **{"sources.max_unknown_instruments": 5}) as app,
    ):
        liquidations = app.metrics.events.labels("liquidation")
        folded = app.health.metrics.folded.labels("binance_usdm", "liquidation")
        await until(lambda: liquidations._value.get() >= len(names), GUARD_S)
        assets = {
            k
            for lvl, k in zip(app.engine.scopes.levels, app.engine.scopes.keys, strict=True)
            if lvl == "asset"
        }
        running = app.started and not app.pipeline_done.is_set()

    assert running
    assert liquidations._value.get() == len(names)  # every one counted, none lost
    assert folded._value.get() == len(names) - 5
    assert assets == {"ZZ0", "ZZ1", "ZZ2", "ZZ3", "ZZ4", "other"}
