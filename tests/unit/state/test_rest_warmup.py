import contextlib
import csv
import json

from aiohttp import web

from monitor.aggregate.windows.prices import PriceWindows
from monitor.config import load
from monitor.runtime.embedded import run_app
from monitor.state.rest_warmup import OFFLINE, warm_from_rest
from tests.conftest import KLINES
from tests.e2e.test_daemon import get

NEAR = KLINES / "NEARUSDT-1m-2025-11-21.csv"
KEY = "binance_usdm:NEAR-USDT-PERP"


def kline_json() -> list[list]:
    """The fixture's rows in the venue's REST shape (numbers as strings, times as ints)."""
    out = []
    with NEAR.open() as fh:
        for row in csv.reader(fh):
            if row[0].isdigit():
                out.append([int(row[0]), *row[1:6], int(row[6]), row[7], int(row[8]), *row[9:]])
    return out


@contextlib.asynccontextmanager
async def venue(rows):
    asked = []

    async def klines(request: web.Request) -> web.Response:
        asked.append(dict(request.query))
        if request.query["symbol"] != "NEARUSDT":
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        # the venue's paging: the newest `limit` klines opened at or before endTime
        end = int(request.query.get("endTime", 2**62))
        page = [r for r in rows if r[0] <= end][-int(request.query["limit"]) :]
        return web.Response(text=json.dumps(page), content_type="application/json")

    app = web.Application()
    app.router.add_get("/fapi/v1/klines", klines)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield "http://127.0.0.1:%d" % runner.addresses[0][1], asked
    finally:
        await runner.cleanup()


def windows():
    return PriceWindows((300, 900, 1800), 1440.0)


async def test_rest_klines_seed_the_volatility_and_are_cached(tmp_path):
    prices = windows()
    async with venue(kline_json()) as (url, asked):
        status = await warm_from_rest(
            prices, ["NEARUSDT", "NOPEUSDT"], tmp_path, {}, rest_override=url
        )

    assert status == "1 instruments seeded from binance_usdm REST klines"
    assert asked[0] == {"symbol": "NEARUSDT", "interval": "1m", "limit": "1500"}
    assert len([q for q in asked if q["symbol"] == "NEARUSDT"]) == 1  # a short page: no older
    assert (
        prices.instruments[KEY].minutes == 598
    )  # 600 klines: 599 minute rolls, the first has no close before it
    assert (tmp_path / "NEARUSDT-1m-warmup.csv").is_file()
    assert not (tmp_path / "NOPEUSDT-1m-warmup.csv").exists()


def days_of_klines(days: int) -> list[list]:
    """`days` of contiguous 1-minute klines in the REST shape, a slow zigzag from 5.0."""
    start = 1_763_000_000_000 // 60_000 * 60_000
    rows = []
    for i in range(days * 1440):
        o = 5.0 + 0.01 * (i % 7)
        c = 5.0 + 0.01 * ((i + 1) % 7)
        t = start + 60_000 * i
        rows.append([t, str(o), str(max(o, c)), str(min(o, c)), str(c), "1", t + 59_999,
                     "5", 3, "0.5", "2.5", "0"])  # fmt: skip
    return rows


async def test_four_days_come_in_pages_walking_back_with_end_time(tmp_path):
    rows = days_of_klines(5)
    prices = windows()
    async with venue(rows) as (url, asked):
        status = await warm_from_rest(
            prices, ["NEARUSDT"], tmp_path, {}, rest_override=url, minutes=4 * 1440
        )

    assert status == "1 instruments seeded from binance_usdm REST klines"
    assert [q["limit"] for q in asked] == ["1500", "1500", "1500", "1260"]
    assert "endTime" not in asked[0]
    with (tmp_path / "NEARUSDT-1m-warmup.csv").open() as fh:
        cached = [int(r[0]) for r in csv.reader(fh)]
    assert cached == [r[0] for r in rows[-4 * 1440 :]]  # the newest 4 days, oldest first, whole
    assert [int(q["endTime"]) for q in asked[1:]] == [
        cached[-1500 * k] - 1 for k in (1, 2, 3)
    ]  # each page ends just before the oldest kline of the page after it
    assert prices.instruments[KEY].minutes == 4 * 1440 - 2


async def test_offline_uses_the_cache_else_the_priors(tmp_path):
    async with venue(kline_json()) as (url, _):
        await warm_from_rest(windows(), ["NEARUSDT"], tmp_path / "cache", {}, rest_override=url)
    offline = "http://127.0.0.1:9"

    cached = windows()
    from_cache = await warm_from_rest(
        cached, ["NEARUSDT"], tmp_path / "cache", {}, rest_override=offline
    )
    bare = windows()
    priors = await warm_from_rest(bare, ["NEARUSDT"], tmp_path / "none", {}, rest_override=offline)

    assert from_cache == "1 instruments seeded offline, from cached klines"
    assert cached.instruments[KEY].minutes == 598
    assert priors == OFFLINE
    assert bare.instruments == {}


async def test_readyz_says_the_daemon_started_offline_on_priors(tmp_path):
    from monitor.state.keeper import StatePlan

    settings = load(
        None, env={},
        overrides={
            "http.listen": "127.0.0.1:0",
            "sources.enabled": ["binance_usdm"],
            "sources.rest_override": {"binance_usdm": "http://127.0.0.1:9"},
            "state.dir": str(tmp_path),
        },
    )  # fmt: skip
    async with run_app(settings, state_plan=StatePlan(role="run", rest=True)) as app:
        _, body = await get(app.http_port, "/readyz")

    assert json.loads(body)["checks"]["warm_start"] == "offline, using priors"
