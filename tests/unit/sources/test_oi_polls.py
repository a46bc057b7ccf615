"""Binance COIN-M and HTX open interest polls against the local server of ``test_rest_polls``.

Routes answer in the venues' documented JSON shapes: COIN-M ``/dapi/v1/openInterest``
(contracts), ``/dapi/v1/premiumIndex`` (always an array) and ``/dapi/v1/exchangeInfo``
(the adapter's catalogue fixture: ``contractSize`` USD per contract); HTX
``/linear-swap-api/v1/swap_open_interest`` (``volume`` contracts, ``amount`` coin, ``value``
USDT; ``status: error`` for an unknown contract).
"""

import asyncio
import json
import time

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.aggregate.detect.gaps import POLLED_OI
from monitor.config import load
from monitor.events import Tick
from monitor.observability.source_metrics import SourceMetrics
from monitor.runtime.embedded import run_app
from monitor.sources import binance_coinm, htx
from monitor.sources.binance_oi import BinanceOI
from monitor.sources.htx_oi import HtxOI
from monitor.sources.oi_poll import OIVenue, OpenInterestPoller
from monitor.sources.polls import OI_VENUES, build_rest_polls, watched_symbols
from tests.e2e.test_daemon import get, samples, total
from tests.support.fake_exchange import FakeExchange, Stall
from tests.unit.sources import _adapter_checks as checks
from tests.unit.sources.test_rest_polls import no_sleep, polling_daemon, venue

NS = 1_000_000_000
COINM_INFO = checks.payload(binance_coinm.NAME, "exchangeInfo_rest")
COINM_MARKS = {"BTCUSD_PERP": "90010.5", "ETHUSD_PERP": "3001.25"}
COINM_OI = {"BTCUSD_PERP": "517890", "ETHUSD_PERP": "2750321"}
# (volume contracts, amount coin, value USDT) per contract; BTC-USDT contracts are 0.001 BTC
HTX_OI = {"BTC-USDT": (78696, 78.696, 7083427.0), "ETH-USDT": (120000, 1200.0, 3601500.0)}


def _coinm_routes(info: bytes = COINM_INFO):
    def mark(symbol):  # the documented premiumIndex row
        return {
            "symbol": symbol, "pair": symbol.partition("_")[0], "markPrice": COINM_MARKS[symbol],
            "indexPrice": COINM_MARKS[symbol], "estimatedSettlePrice": COINM_MARKS[symbol],
            "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
            "nextFundingTime": 1596096000000, "time": int(time.time() * 1000),
        }  # fmt: skip

    async def premium(request, asked):
        symbol = request.query.get("symbol", "")
        asked.append(("dapi premiumIndex", symbol))
        if symbol and symbol not in COINM_MARKS:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return web.json_response([mark(s) for s in COINM_MARKS if s == symbol or not symbol])

    async def open_interest(request, asked):
        symbol = request.query["symbol"]
        asked.append(("dapi openInterest", symbol))
        if symbol not in COINM_OI:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return web.json_response({
            "symbol": symbol, "pair": symbol.partition("_")[0], "openInterest": COINM_OI[symbol],
            "contractType": "PERPETUAL", "time": int(time.time() * 1000),
        })  # fmt: skip

    async def exchange_info(request, asked):
        asked.append(("dapi exchangeInfo", ""))
        if not info:
            return web.Response(status=503)
        return web.Response(body=info, content_type="application/json")

    return {
        "/dapi/v1/premiumIndex": premium,
        "/dapi/v1/openInterest": open_interest,
        "/dapi/v1/exchangeInfo": exchange_info,
    }


async def _htx_open_interest(request, asked):
    code = request.query["contract_code"]
    asked.append(("swap_open_interest", code))
    ts = int(time.time() * 1000)
    if code == "HTML-USDT":
        return web.Response(text="<html>", content_type="text/html")
    if code not in HTX_OI:  # HTX answers errors with HTTP 200
        body = {"status": "error", "err_code": 1332, "err_msg": "Non-existent contract", "ts": ts}
        return web.json_response(body)
    volume, amount, value = HTX_OI[code]
    row = {
        "symbol": code.split("-")[0], "contract_code": code, "volume": volume, "amount": amount,
        "value": value, "trade_amount": 1.5, "trade_volume": 1500, "trade_turnover": 135000.0,
        "business_type": "swap", "pair": code, "contract_type": "swap",
    }  # fmt: skip
    return web.json_response({"status": "ok", "data": [row], "ts": ts})


ROUTES = {**_coinm_routes(), "/linear-swap-api/v1/swap_open_interest": _htx_open_interest}


async def _poll(part: OIVenue, symbols, routes=ROUTES):
    """Run one round of `part` on `symbols`; return (ticks, errors, asked)."""
    published: list[Tick] = []
    errors: list[tuple[str, str]] = []

    async def publish(events):
        published.extend(events)
        return len(events)

    poller = OpenInterestPoller(part, symbols, {}, sleep=no_sleep,
                                on_error=lambda e, r: errors.append((e, r)))  # fmt: skip
    async with aiohttp.ClientSession() as session:
        assert await poller.poll_round(session, publish) == len(published)
    return {t.venue_symbol: t for t in published}, sorted(errors), poller


async def test_coinm_open_interest_is_contracts_times_the_contract_size():
    sizes = {i.venue_symbol: i.contract_size
             for i in binance_coinm.parse_instruments(COINM_INFO, {})}  # fmt: skip
    async with venue(routes=ROUTES) as (url, asked):
        ticks, errors, _ = await _poll(
            BinanceOI.coinm(url), ["BTCUSD_PERP", "ETHUSD_PERP", "NOPEUSD_PERP"]
        )

    assert sizes["BTCUSD_PERP"] != sizes["ETHUSD_PERP"]  # a swapped or single size fails
    for symbol in ("BTCUSD_PERP", "ETHUSD_PERP"):
        tick = ticks[symbol]
        assert tick.open_interest_usd == float(COINM_OI[symbol]) * sizes[symbol]
        assert tick.price == float(COINM_MARKS[symbol])
        assert abs(tick.ts_event_ns - time.time_ns()) < 60 * NS  # the answer's own time
    assert (ticks["BTCUSD_PERP"].exchange, ticks["BTCUSD_PERP"].symbol) == (
        "binance_coinm", "BTC-USD-PERP",
    )  # fmt: skip
    # NOPE: not in the all-symbol marks, asked alone (400), and its openInterest (400)
    assert ("dapi premiumIndex", "NOPEUSD_PERP") in asked
    assert errors == [("openInterest", "http"), ("premiumIndex", "http")]


async def test_coinm_takes_the_catalogue_size_over_the_convention():
    edited = json.loads(COINM_INFO)
    for row in edited["symbols"]:
        if row["symbol"] == "BTCUSD_PERP":
            row["contractSize"] = 50  # not Binance's convention (100): only exchangeInfo says it
    async with venue(routes=_coinm_routes(json.dumps(edited).encode())) as (url, _):
        ticks, errors, poller = await _poll(BinanceOI.coinm(url), ["BTCUSD_PERP"])
    assert ticks["BTCUSD_PERP"].open_interest_usd == float(COINM_OI["BTCUSD_PERP"]) * 50
    assert errors == []

    async with venue(routes=_coinm_routes(b"")) as (url, asked):  # exchangeInfo down
        ticks, errors, poller = await _poll(BinanceOI.coinm(url), ["BTCUSD_PERP"])
        async with aiohttp.ClientSession() as session:  # asked again next round, counted
            await poller.poll_round(session, _discard)
    assert ticks["BTCUSD_PERP"].open_interest_usd == float(COINM_OI["BTCUSD_PERP"]) * 100
    assert errors == [("exchangeInfo", "http")]
    assert asked.count(("dapi exchangeInfo", "")) == 2
    assert poller.errors == 2


async def _discard(events):
    return len(events)


async def test_htx_open_interest_is_the_venue_value_at_its_own_price():
    async with venue(routes=ROUTES) as (url, asked):
        ticks, errors, _ = await _poll(
            HtxOI(url), ["BTC-USDT", "eth-usdt", "NOPE-USDT", "HTML-USDT", "BTC-USDT-211217"]
        )

    assert set(ticks) == {"BTC-USDT", "ETH-USDT"}  # the dated future is not a swap: not polled
    for code, tick in ticks.items():
        _, amount, value = HTX_OI[code]
        assert tick.open_interest_usd == value  # the venue's USDT value, not contracts
        assert tick.price == value / amount
        assert tick.open_interest_usd / tick.price == amount  # the engine's base units
    assert (ticks["BTC-USDT"].exchange, ticks["BTC-USDT"].symbol) == ("htx", "BTC-USDT-PERP")
    assert ("swap_open_interest", "ETH-USDT") in asked
    assert errors == [("swap_open_interest", "parse")] * 2  # status error; an HTML page


async def test_polled_ticks_name_the_instruments_the_ws_adapters_stream():
    mark = json.dumps({
        "e": "markPriceUpdate", "E": 1596095725000, "s": "BTCUSD_PERP", "p": "90010.5",
        "i": "90000.1", "r": "0.0001", "T": 1596096000000,
    })  # fmt: skip
    coinm_ws = binance_coinm.MarkPriceParser(checks.book(binance_coinm, "exchangeInfo_rest")).parse(
        mark.encode(), 1
    )
    htx_ws = htx.DetailParser(checks.book(htx, "instruments_swap_contract_info")).parse(
        checks.payload(htx.NAME, "detail_update"), 1
    )
    async with venue(routes=ROUTES) as (url, _):
        coinm_polled, _, _ = await _poll(BinanceOI.coinm(url), ["BTCUSD_PERP"])
        htx_polled, _, _ = await _poll(HtxOI(url), ["BTC-USDT"])

    for ws, polled in ((coinm_ws, coinm_polled), (htx_ws, htx_polled)):
        (streamed,) = ws
        assert isinstance(streamed, Tick)
        joined = polled[streamed.venue_symbol]
        key = ("exchange", "symbol", "asset", "asset_class")
        assert [getattr(joined, k) for k in key] == [getattr(streamed, k) for k in key]


def test_each_enabled_venue_gets_its_poll_with_its_host_and_spelling(tmp_path):
    settings = load(
        None, env={},
        overrides={
            "state.dir": str(tmp_path),
            "sources.enabled": ["binance_coinm", "htx", "bybit"],
            "sources.symbols": {"binance_coinm": []},
            "sources.rest_override": {"htx": "http://127.0.0.1:9"},
            "assets.watch": ["BTC", "ETH"],
        },
    )  # fmt: skip
    polls = build_rest_polls(settings, None, SourceMetrics(CollectorRegistry()))

    by_venue = {p.venue.name: p for p in polls if isinstance(p, OpenInterestPoller)}
    assert list(by_venue) == ["binance_coinm", "htx"]  # bybit streams its OI
    assert list(by_venue["binance_coinm"].instruments) == ["BTCUSD_PERP", "ETHUSD_PERP"]
    assert list(by_venue["htx"].instruments) == ["BTC-USDT", "ETH-USDT"]
    part = by_venue["htx"].venue
    assert isinstance(part, HtxOI)
    assert part.oi_url == "http://127.0.0.1:9/linear-swap-api/v1/swap_open_interest"
    assert watched_symbols(settings, "binance_usdm") == ["BTCUSDT", "ETHUSDT"]
    assert set(OI_VENUES) == POLLED_OI  # data_gap ignores exactly the polled ticks
    off = load(None, env={}, overrides={"sources.open_interest_poll": False})
    assert build_rest_polls(off, None, SourceMetrics(CollectorRegistry())) == []


async def test_the_daemon_polls_coinm_and_htx_into_the_engine(tmp_path):
    # the WebSocket streams stall: every price and OI reading the engine has is a poll's
    keys = {"binance_coinm:BTC-USD-PERP", "htx:BTC-USDT-PERP"}
    symbols = {"binance_coinm": ["BTCUSD_PERP"], "htx": ["BTC-USDT", "NOPE-USDT"]}
    async with venue(routes=ROUTES) as (url, _), FakeExchange([[Stall(60.0)]]) as fx:
        settings = polling_daemon(tmp_path, url, fx.url, symbols)
        async with run_app(settings, margin_inputs=True) as app:
            deadline = time.monotonic() + 20.0
            while time.monotonic() < deadline:
                if keys <= set(app.engine.prices.instruments):
                    break
                await asyncio.sleep(0.2)
            metrics = samples((await get(app.http_port, "/metrics"))[1])
            series = app.engine.deleveraging.detector._scopes["BTC"].series

    prices = app.engine.prices.instruments
    assert prices["binance_coinm:BTC-USD-PERP"].last == float(COINM_MARKS["BTCUSD_PERP"])
    _, amount, value = HTX_OI["BTC-USDT"]
    assert prices["htx:BTC-USDT-PERP"].last == value / amount
    assert keys <= set(series)  # the OI readings reached the deleveraging rule's BTC scope
    failed = total(metrics, "liqmon_rest_poll_errors_total", exchange="htx",
                   stream="swap_open_interest", reason="parse")  # fmt: skip
    assert failed >= 1  # NOPE-USDT, counted; the daemon runs on
