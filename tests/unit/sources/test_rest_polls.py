"""Binance REST polls against a local server serving the venue's documented JSON shapes.

`venue` is the local server; other venues' polls (``test_oi_polls``) add their routes to it.

Open interest (``/fapi/v1/openInterest`` + ``/fapi/v1/premiumIndex``) becomes Ticks with
``open_interest_usd`` = contracts × mark; the TradFi schedule (``/fapi/v1/tradingSchedule``)
is cached on disk and folded into the engine's calendar; failures are counted, not raised.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping

import aiohttp
from aiohttp import web

from monitor.config import load
from monitor.runtime.embedded import run_app
from monitor.sessions.calendar import SessionCalendar, template_session
from monitor.sessions.fetch import CACHE_NAME, ScheduleWatcher, load_cached
from monitor.sources.backoff import Backoff
from monitor.sources.binance_oi import BinanceOI
from monitor.sources.oi_poll import OpenInterestPoller
from tests.e2e.test_daemon import get, samples, total
from tests.support.fake_exchange import FakeExchange, Send, Stall
from tests.unit.sources.test_session_stream import NOON, halt
from tests.unit.test_sessions import SCHEDULE

NS = 1_000_000_000
MARKS = {"BTCUSDT": "90000.5", "TSLAUSDT": "400.25"}
OI = {"BTCUSDT": "10659.509", "TSLAUSDT": "1200", "XAUUSDT": "<html>"}


def _mark(symbol):
    # the documented premiumIndex row
    return {
        "symbol": symbol, "markPrice": MARKS[symbol], "indexPrice": MARKS[symbol],
        "estimatedSettlePrice": MARKS[symbol], "lastFundingRate": "0.00038246",
        "interestRate": "0.00010000", "nextFundingTime": 1597392000000,
        "time": int(time.time() * 1000),
    }  # fmt: skip


Route = Callable[[web.Request, list[tuple[str, str]]], Awaitable[web.Response]]


def _bound(route: Route, asked: list[tuple[str, str]]):
    async def handle(request: web.Request) -> web.Response:
        return await route(request, asked)

    return handle


@contextlib.asynccontextmanager
async def venue(schedule: bytes = SCHEDULE, routes: Mapping[str, Route] | None = None):
    """Serve Binance USDⓈ-M's endpoints and `routes` (path → handler of (request, asked))."""
    asked: list[tuple[str, str]] = []

    async def premium(request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        asked.append(("premiumIndex", symbol or ""))
        if symbol is None:  # all symbols; TradFi ones are not in it (as the mark stream)
            return web.json_response([_mark("BTCUSDT")])
        if symbol not in MARKS:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return web.json_response(_mark(symbol))

    async def open_interest(request: web.Request) -> web.Response:
        symbol = request.query["symbol"]
        asked.append(("openInterest", symbol))
        if symbol not in OI:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        if OI[symbol].startswith("<"):
            return web.Response(text=OI[symbol], content_type="text/html")
        body = {"openInterest": OI[symbol], "symbol": symbol, "time": int(time.time() * 1000)}
        return web.json_response(body)

    async def trading_schedule(request: web.Request) -> web.Response:
        asked.append(("tradingSchedule", ""))
        return web.Response(body=schedule, content_type="application/json")

    app = web.Application()
    app.router.add_get("/fapi/v1/premiumIndex", premium)
    app.router.add_get("/fapi/v1/openInterest", open_interest)
    app.router.add_get("/fapi/v1/tradingSchedule", trading_schedule)
    for path, route in (routes or {}).items():
        app.router.add_get(path, _bound(route, asked))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield "http://127.0.0.1:%d" % runner.addresses[0][1], asked
    finally:
        await runner.cleanup()


def polling_daemon(tmp_path, rest_url: str, ws_url: str, symbols: dict[str, list[str]]):
    """A daemon's settings with the `symbols` venues' REST on `rest_url`, WS on `ws_url`."""
    venues = list(symbols)
    return load(
        None, env={},
        overrides={
            "http.listen": "127.0.0.1:0",
            "sources.enabled": venues,
            "sources.rest_override": dict.fromkeys(venues, rest_url),
            "sources.endpoint_override": dict.fromkeys(venues, ws_url),
            "sources.symbols": symbols,
            "sources.open_interest_poll_s": 0.5,
            "state.dir": str(tmp_path),
            "state.warm_start": False,
            "margin.pollers": [],
        },
    )  # fmt: skip


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def test_open_interest_becomes_ticks_valued_at_the_mark():
    published, errors = [], []

    async def publish(events):
        published.extend(events)
        return len(events)

    async with venue() as (url, asked), aiohttp.ClientSession() as session:
        poller = OpenInterestPoller(
            BinanceOI.usdm(url), ["BTCUSDT", "TSLAUSDT", "XAUUSDT", "NOPEUSDT"],
            {"TSLA": "equity"}, interval_s=60.0, sleep=no_sleep,
            on_error=lambda e, r: errors.append((e, r)),
        )  # fmt: skip
        n = await poller.poll_round(session, publish)

    assert n == 2
    btc, tsla = published
    assert (btc.symbol, btc.asset_class, btc.price) == ("BTC-USDT-PERP", "crypto", 90000.5)
    assert btc.open_interest_usd == float(OI["BTCUSDT"]) * 90000.5
    assert (tsla.asset_class, tsla.open_interest_usd) == ("equity", 1200 * 400.25)
    assert abs(btc.ts_event_ns - time.time_ns()) < 60 * NS  # the answer's own time
    # TSLA (not in the all-symbol marks) asked on its own; XAU and NOPE failed, counted
    assert ("premiumIndex", "TSLAUSDT") in asked
    assert sorted(errors) == [
        ("openInterest", "http"),
        ("openInterest", "parse"),
        ("premiumIndex", "http"),
        ("premiumIndex", "http"),
    ]


async def test_rest_override_sets_the_host_and_a_dead_venue_backs_off():
    delays: list[float] = []

    async def sleep(s: float) -> None:
        delays.append(s)
        if len(delays) >= 6:
            raise asyncio.CancelledError

    async def publish(events):
        msg = "nothing to publish"
        raise AssertionError(msg)

    part = BinanceOI.usdm("http://127.0.0.1:9")
    poller = OpenInterestPoller(
        part, ["BTCUSDT", "ETHUSDT"], {}, interval_s=10.0, sleep=sleep,
        backoff=Backoff(10.0, 40.0, seed=1),
    )  # fmt: skip
    assert part.oi_url == "http://127.0.0.1:9/fapi/v1/openInterest"
    with contextlib.suppress(asyncio.CancelledError):
        await poller.run(publish)

    # per round: two 5 s steps, then a backoff delay (all requests failed), growing to 40 s
    assert delays[:2] == [5.0, 5.0]
    assert delays[3:5] == [5.0, 5.0]
    assert poller.errors >= 6  # premiumIndex + 2 × openInterest per round, none fatal


async def test_the_schedule_is_fetched_cached_and_used_offline(tmp_path):
    calendar = SessionCalendar()
    async with venue() as (url, asked):
        watcher = ScheduleWatcher(calendar, tmp_path, rest_override=url)
        async with aiohttp.ClientSession() as session:
            assert await watcher.refresh(session)

    holiday = 1761744600000 * 1_000_000 - 3600 * NS  # published NO_TRADING, template REGULAR
    assert asked == [("tradingSchedule", "")]
    assert template_session("COMMODITY", holiday) == "REGULAR"
    assert calendar.session_at("COMMODITY", holiday) == "NO_TRADING"
    assert (tmp_path / CACHE_NAME).read_bytes() == SCHEDULE

    offline = SessionCalendar()  # a restart without network: the cache answers
    dead = ScheduleWatcher(offline, tmp_path, rest_override="http://127.0.0.1:9")
    reasons: list[str] = []
    dead.on_error = reasons.append
    assert load_cached(offline, tmp_path / CACHE_NAME) == 4
    async with aiohttp.ClientSession() as session:
        assert not await dead.refresh(session)
    assert reasons == ["http"]
    assert offline.session_at("COMMODITY", holiday) == "NO_TRADING"
    assert (tmp_path / CACHE_NAME).read_bytes() == SCHEDULE  # a failure keeps the cache


async def test_a_bad_schedule_is_counted_and_the_template_stays(tmp_path):
    (tmp_path / CACHE_NAME).write_text("not json")
    calendar = SessionCalendar()
    assert load_cached(calendar, tmp_path / CACHE_NAME) == 0  # logged, ignored
    async with venue(b'{"marketSchedules": 3}') as (url, _):
        watcher = ScheduleWatcher(calendar, tmp_path, rest_override=url)
        async with aiohttp.ClientSession() as session:
            assert not await watcher.refresh(session)

    assert watcher.errors == 1
    assert calendar.published == {}
    assert (tmp_path / CACHE_NAME).read_text() == "not json"


async def test_the_daemon_polls_open_interest_and_the_schedule(tmp_path):
    halted = {"tradingSession": [[Send(halt()), Stall(60.0)]]}  # the stream; others stall
    async with venue() as (url, asked), FakeExchange([[Stall(60.0)]], halted) as fx:
        symbols = {"binance_usdm": ["BTCUSDT", "NOPEUSDT"]}
        settings = polling_daemon(tmp_path, url, fx.url, symbols)
        async with run_app(settings, margin_inputs=True) as app:
            deadline = time.monotonic() + 20.0
            while time.monotonic() < deadline:
                calendar = app.engine.sessions
                streamed = calendar.session_at("EQUITY", NOON * 1_000_000) == "NO_TRADING"
                if "binance_usdm:BTC-USDT-PERP" in app.engine.prices.instruments and streamed:
                    break
                await asyncio.sleep(0.2)
            metrics = samples((await get(app.http_port, "/metrics"))[1])
            published = app.engine.sessions.published

    state = app.engine.prices.instruments["binance_usdm:BTC-USDT-PERP"]
    assert state.last == 90000.5
    assert ("openInterest", "BTCUSDT") in asked
    assert set(published) == {"EQUITY", "COMMODITY"}
    assert streamed  # the tradingSession push reached the engine's calendar
    assert (tmp_path / "sessions" / CACHE_NAME).is_file()
    failed = total(metrics, "liqmon_rest_poll_errors_total", stream="openInterest", reason="http")
    assert failed >= 1  # NOPEUSDT, counted; the daemon runs on
