"""Hostile venues against the running daemon, through the fake exchange (issue 16, continued).

A 1,000-deep HTX ping, a stall of the only venue (``/readyz`` over HTTP) and out-of-bounds
frames while a burst alert fires. Each case leaves the daemon up, its alerts and windows
intact and the rejection counted (tests/e2e/test_chaos.py has the frame-by-frame cases).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import math
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from monitor.runtime.embedded import AppHandle, run_app
from monitor.sources import SOURCES
from monitor.sources.backoff import Backoff
from monitor.sources.runner import RunnerPolicy
from tests.support.chaos import SERIAL, force_order, htx_liquidation, mark_price, settings_for
from tests.support.fake_exchange import Expect, FakeExchange, Gate, Send, SendNow, Stall, Step
from tests.support.wait import until

GUARD_S = 15.0
POLICY = RunnerPolicy(backoff=Backoff(0.01, 0.05, seed=1), ping_interval_s=None)


def running(app: AppHandle) -> bool:
    return app.started and not app.pipeline_done.is_set() and not app.source_errors


async def test_a_deep_htx_ping_is_counted_and_the_feed_goes_on(tmp_path: Path) -> None:
    deep = gzip.compress(('{"ping": ' + "[" * 1000 + "]" * 1000 + "}").encode())
    ping = gzip.compress(b'{"op":"ping","ts":"1492420473058"}')
    script = [
        SendNow(htx_liquidation),
        Send(deep),
        Send(ping),  # an ordinary ping after it must still get its pong
        Expect('"op":"pong"'),
        SendNow(htx_liquidation),
        Stall(60),
    ]
    routes = {"notification": [script], "linear-swap-ws": [[Stall(60)]]}
    async with FakeExchange([[Stall(60)]], routes=routes) as fx:
        settings = settings_for(tmp_path, fx.url, venue="htx", symbol="BTC-USDT")
        async with run_app(settings, venues=[SOURCES["htx"]], policy=POLICY) as app:
            errors = app.health.metrics.parse_errors.labels("htx", "liquidations")
            liquidations = app.metrics.events.labels("liquidation")
            await until(lambda: liquidations._value.get() >= 2, GUARD_S)
            up = running(app)
            paths = [c.path for c in fx.connections]
            pongs = [m for c in fx.connections for m in c.received if '"pong"' in m]

    assert up
    assert errors._value.get() == 1  # the deep ping, counted as a bad frame
    assert liquidations._value.get() == 2  # the one before it and the one after it
    assert pongs == ['{"op":"pong","ts":"1492420473058"}']
    assert sorted(paths) == ["/linear-swap-notification", "/linear-swap-ws"]  # none restarted


class Readyz:
    """Polls ``/readyz`` over HTTP in the background and keeps every answer."""

    def __init__(self, port: int) -> None:
        self.url = "http://127.0.0.1:%d/readyz" % port
        self.answers: list[tuple[int, dict[str, str]]] = []

    async def poll(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(self.url) as resp:
                    self.answers.append((resp.status, (await resp.json())["checks"]))
                await asyncio.sleep(0.02)

    def now(self, status: int, *, every: str) -> bool:
        """Return True if the last answer has `status` and each venue stream starts with `every`."""
        if not self.answers:
            return False
        got, checks = self.answers[-1]
        streams = [v for k, v in checks.items() if k.startswith("binance_usdm/")]
        return got == status and len(streams) == 2 and all(v.startswith(every) for v in streams)


def beats(make: Callable[[], str], n: int) -> list[Step]:
    """`n` frames, one every 0.1 s."""
    return [step for _ in range(n) for step in (SendNow(make), Stall(0.1))]


async def test_a_stalled_venue_turns_readyz_503_naming_the_stream(tmp_path: Path) -> None:
    venue = SOURCES["binance_usdm"]
    quick = dataclasses.replace(  # the streams' bound: 1 s (30 s and 600 s in production)
        venue, streams=tuple(dataclasses.replace(s, stale_after_s=1.0) for s in venue.streams)
    )
    resume = asyncio.Event()
    liqs = [*beats(force_order, 10), Gate(resume), *beats(force_order, 3), Stall(60)]
    prices = [*beats(mark_price, 10), Gate(resume), *beats(mark_price, 100), Stall(60)]
    # the silent price connection is replaced (stale); the new one is silent too until resumed
    again = [Gate(resume), *beats(mark_price, 100), Stall(60)]
    routes = {"forceOrder": [liqs], "markPrice": [prices, again]}
    async with FakeExchange([[Stall(60)]], routes=routes) as fx:
        settings = settings_for(tmp_path, fx.url)
        async with run_app(settings, venues=[quick], policy=POLICY) as app:
            readyz = Readyz(app.http_port)
            poller = asyncio.create_task(readyz.poll())
            try:
                await until(lambda: readyz.now(200, every="up"), GUARD_S)
                await until(lambda: readyz.now(503, every="stalled"), GUARD_S)
                stalled = dict(readyz.answers[-1][1])
                resume.set()
                await until(lambda: readyz.now(200, every="up"), GUARD_S)
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            up = running(app)
            stale = app.health.metrics.reconnects.labels("binance_usdm", "prices", "stale")

    assert up
    for stream in ("binance_usdm/liquidations", "binance_usdm/prices"):
        assert stalled[stream].startswith("stalled (no frame for")
        assert stalled[stream].endswith("bound 1 s)")
    assert stale._value.get() >= 1  # the silent price connection was replaced


def big_liquidation() -> str:
    """A $4.2M long liquidation of BTC, 3 s old (its second closes at the next frame)."""
    return force_order(t_ms=int(time.time() * 1000) - 3000, qty="70.%03d" % next(SERIAL))


def btc_cascades(app: AppHandle, state: str) -> list[str]:
    return [
        a.alert_id for a in app.alerts if (a.kind, a.scope, a.state) == ("cascade", "BTC", state)
    ]


async def test_out_of_bounds_frames_leave_a_firing_alert_and_the_windows_alone(
    tmp_path: Path,
) -> None:
    hostile = asyncio.Event()
    script = [
        *[SendNow(big_liquidation)] * 3,  # $12.6M, one-sided: above the warm-up floors
        SendNow(force_order),  # now: the watermark closes the burst's second
        Gate(hostile),
        SendNow(lambda: force_order(t_ms=4_102_444_800_000)),  # 2100-01-01
        SendNow(lambda: force_order(qty="%d" % (10**12 + next(SERIAL)))),  # $6e16
        SendNow(force_order),
        Stall(60),
    ]
    routes = {"forceOrder": [[*script]], "markPrice": [[Stall(60)]]}
    async with FakeExchange([[Stall(60)]], routes=routes) as fx:
        settings = settings_for(tmp_path, fx.url, **{"detect.burst.for_s": 0})
        async with run_app(settings, venues=[SOURCES["binance_usdm"]], policy=POLICY) as app:
            liquidations = app.metrics.events.labels("liquidation")
            rejected = app.health.metrics.rejected
            await until(lambda: bool(btc_cascades(app, "firing")), GUARD_S)
            before = app.engine.window_usd("asset", "BTC", 60)
            hostile.set()
            await until(lambda: liquidations._value.get() >= 5, GUARD_S)
            sent_s = int(time.time())  # the daemon closes this second ~5 s later (live)
            await until(lambda: (app.engine.closed_sec or 0) > sent_s, GUARD_S)
            after = app.engine.window_usd("asset", "BTC", 60)
            active = [(a.kind, a.scope, a.state) for a in app.engine.active_alerts()]
            sums_finite = all(math.isfinite(float(v)) for v in app.engine.liq.sums.ravel())
            max_ts = app.engine.max_ts_ns
            up = running(app)

    assert up
    assert ("cascade", "BTC", "firing") in active
    assert btc_cascades(app, "resolved") == []
    assert sums_finite
    assert 12e6 < before[0] <= after[0] < 13e6  # the $6e16 one never reached the window
    assert max_ts is not None
    assert abs(max_ts - time.time_ns()) < 120 * 10**9  # the watermark stayed at the present
    assert rejected.labels("binance_usdm", "time")._value.get() == 1
    assert rejected.labels("binance_usdm", "size")._value.get() == 1
