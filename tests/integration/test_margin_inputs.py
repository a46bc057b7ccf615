"""Margin inputs over real loopback sockets: the POST endpoint, the REST pollers, the CLI
posting to a daemon, and a calendar watcher feeding the app's pipeline."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from monitor.codec import encode
from monitor.config import Settings
from monitor.events import MarginChange
from monitor.margin import cli as margin_cli
from monitor.margin.calendar import CalendarWatcher
from monitor.margin.http import PATH, margin_route
from monitor.margin.pollers import TierPoller, http_fetcher
from monitor.secret import Secret
from tests.support.wait import until

pytestmark = pytest.mark.integration
MARGIN = Path(__file__).resolve().parents[1] / "fixtures" / "margin"
TOKEN = "s3cret-token"  # noqa: S105 - a test token
CLASSES = {"XAG": "metal", "XAU": "metal"}
SILVER = {
    "venue": "cme", "product": "SI", "asset": "XAG", "basis": "pct_notional",
    "old": 15, "new": 18, "notice": "2026-02-05", "effective": "2026-02-06T22:00Z",
    "source": "https://www.c114pro.com/newsflashes/145065.html",
}  # fmt: skip


async def serve(*routes: web.RouteDef) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.add_routes(list(routes))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, "http://127.0.0.1:%d" % runner.addresses[0][1]


class Published:
    def __init__(self) -> None:
        self.batches: list[list[MarginChange]] = []

    async def __call__(self, events) -> int:
        self.batches.append(list(events))
        return len(events)

    @property
    def events(self) -> list[MarginChange]:
        return [e for batch in self.batches for e in batch]


@pytest.fixture
async def margin_api():
    published = Published()
    runner, url = await serve(margin_route(Secret(TOKEN), published, classes=CLASSES))
    async with aiohttp.ClientSession() as session:
        yield session, url + PATH, published
    await runner.cleanup()


async def post(session, url, body, token: str | None = TOKEN):
    headers = {"Authorization": "Bearer %s" % token} if token is not None else {}
    async with session.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_post_without_a_token_is_refused_and_changes_nothing(margin_api):
    session, url, published = margin_api

    status, body, headers = await post(session, url, SILVER, token=None)

    assert status == 401
    assert headers["WWW-Authenticate"] == "Bearer"
    assert body == {"error": "missing or wrong bearer token"}
    assert published.batches == []


@pytest.mark.parametrize("header", ["Bearer wrong", "Basic czNjcmV0LXRva2Vu", "Bearer", TOKEN])
async def test_post_with_a_wrong_token_is_refused(margin_api, header):
    session, url, published = margin_api

    async with session.post(url, json=SILVER, headers={"Authorization": header}) as resp:
        status = resp.status

    assert status == 401
    assert published.batches == []


async def test_post_with_the_token_is_accepted_and_published(margin_api):
    session, url, published = margin_api

    status, body, _ = await post(session, url, SILVER)

    assert status == 202
    (change,) = published.events
    assert body == {"accepted": [change.event_id], "duplicates": []}
    assert (change.product, change.asset_class, change.old, change.new) == ("SI", "metal", 15, 18)
    assert change.tightening == pytest.approx(1 / 6)
    assert change.effective_ts_ns == 1_770_415_200_000_000_000  # 2026-02-06T22:00Z


async def test_post_a_list_and_a_contract_event_as_is(margin_api):
    session, url, published = margin_api
    gold = {**SILVER, "product": "GC", "asset": "XAU", "old": 8, "new": 9}
    loosening = {**SILVER, "old": 18, "new": 15, "profile": "HRP"}

    status, body, _ = await post(session, url, [gold, loosening])
    contract = json.loads(encode(published.events[0]))  # a posted event re-posted as is
    status_again, body_again, _ = await post(session, url, contract)
    status_mixed, body_mixed, _ = await post(session, url, [contract, {**SILVER, "new": 20}])

    assert (status, status_again, status_mixed) == (202, 200, 202)
    assert len(body["accepted"]) == 2
    assert body_again == {"accepted": [], "duplicates": [contract["event_id"]]}  # one change
    assert body_mixed["duplicates"] == [contract["event_id"]]
    assert [e.product for e in published.events] == ["GC", "SI:HRP", "SI"]
    assert published.events[1].tightening == pytest.approx(-0.2)
    assert published.events[2].new == 20


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**SILVER, "old": -1}, "old: must be percent points in (0, 100] for basis pct_notional"),
        ({**SILVER, "basis": "percent"}, "basis: must be one of"),
        ({**SILVER, "efective": "2026-02-06"}, "efective: unknown field"),
        ({k: v for k, v in SILVER.items() if k != "asset"}, "asset: missing"),
        ({**SILVER, "tightening": 0.5}, "tightening: 0.5 does not match old/new (0.166667)"),
        ([SILVER, {**SILVER, "new": "x"}], "items[1].new: must be a number, got 'x'"),
        ([SILVER, 7], "items[1]: expected an object"),
        ([], "body: expected a change object or a non-empty list"),
        ("text", "body: expected a change object or a non-empty list"),
    ],
)
async def test_post_bad_input_is_400_naming_the_field_and_nothing_published(
    margin_api, body, error
):
    session, url, published = margin_api

    status, answer, _ = await post(session, url, body)

    assert status == 400
    assert answer["error"].startswith(error)
    assert published.batches == []


async def test_post_not_json_is_400(margin_api):
    session, url, published = margin_api

    headers = {"Authorization": "Bearer %s" % TOKEN}
    async with session.post(url, data=b"{nope", headers=headers) as resp:
        status, answer = resp.status, await resp.json()

    assert status == 400
    assert answer["error"].startswith("body: not JSON")
    assert published.batches == []


@pytest.mark.parametrize("token", [None, Secret("")])
async def test_without_a_configured_token_the_endpoint_refuses_everything(token):
    published = Published()
    runner, url = await serve(margin_route(token, published, classes=CLASSES))
    try:
        async with aiohttp.ClientSession() as session:
            status, body, _ = await post(session, url + PATH, SILVER, token="")
    finally:
        await runner.cleanup()

    assert status == 503
    assert "http.api_token is not set" in body["error"]
    assert published.batches == []


async def test_cli_margin_add_posts_to_a_running_endpoint(margin_api, monkeypatch, capsys):
    _session, url, published = margin_api
    monkeypatch.setenv("MARGIN_TEST_TOKEN", TOKEN)
    args = margin_cli_args(["--post", url.removesuffix(PATH), "--token-env", "MARGIN_TEST_TOKEN"])

    code = await asyncio.to_thread(margin_cli.run, args, Settings())

    assert code == 0
    (change,) = published.events
    assert json.loads(capsys.readouterr().out)["event_id"] == change.event_id


def margin_cli_args(extra):
    import argparse

    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    for flag in ("--config", "--log-level", "--log-format"):
        common.add_argument(flag)
    margin_cli.add_parser(parser.add_subparsers(dest="command"), common)
    argv = ["margin", "add"] + [f"--{k}={v}" for k, v in SILVER.items()] + extra
    return parser.parse_args(argv)


class TierServer:
    """Serves Bybit risk-limit pages and Hyperliquid meta; `version` picks the payloads."""

    def __init__(self) -> None:
        self.version = ""
        self.requests: list[str] = []

    async def bybit(self, request: web.Request) -> web.Response:
        assert request.query["category"] == "linear"
        page = "p2" if request.query.get("cursor") == "page-2" else "p1"
        self.requests.append("bybit:" + page)
        return web.Response(
            body=(MARGIN / f"bybit_risk_limit_{page}{self.version}.json").read_bytes()
        )

    async def hyperliquid(self, request: web.Request) -> web.Response:
        assert await request.json() == {"type": "meta"}
        self.requests.append("hyperliquid")
        name = "after" if self.version else "before"
        return web.Response(body=(MARGIN / f"hyperliquid_meta_{name}.json").read_bytes())


@pytest.mark.parametrize(("venue", "per_change"), [("bybit", 4), ("hyperliquid", 2)])
async def test_poller_against_a_local_server_emits_exactly_once_per_change(venue, per_change):
    # Arrange: the payloads change after poll 2 and change back after poll 4
    server = TierServer()
    runner, url = await serve(
        web.get("/v5/market/risk-limit", server.bybit), web.post("/info", server.hyperliquid)
    )
    published = Published()
    polls = 0
    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        nonlocal polls
        polls += 1
        server.version = "_after" if polls in (2, 3) else ""
        if polls == 5:
            done.set()
            await asyncio.Event().wait()  # park until cancelled

    poller = TierPoller(
        venue, http_fetcher(venue, base=url, timeout_s=5), classes=CLASSES, sleep=sleep
    )

    # Act
    task = asyncio.create_task(poller.run(published))
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()

    # Assert: polls 1–2 old, 3–4 new, 5 old again → one batch at 3, its reverse at 5
    assert poller.polls == 5
    assert poller.errors == 0
    assert [len(b) for b in published.batches] == [per_change, per_change]
    there = {(e.product, e.basis, e.old, e.new) for e in published.batches[0]}
    back = {(e.product, e.basis, e.new, e.old) for e in published.batches[1]}
    assert there == back
    assert any(e.tightening > 0 for e in published.events)
    assert any(e.tightening < 0 for e in published.events)
    if venue == "bybit":
        assert server.requests.count("bybit:p2") == 5  # every poll followed the cursor


async def test_poller_counts_a_server_error_and_keeps_polling():
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503)

    rounds = 0

    async def sleep(seconds: float) -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 2:
            raise asyncio.CancelledError

    runner, url = await serve(web.post("/info", broken))
    fetch = http_fetcher("hyperliquid", base=url)
    poller = TierPoller("hyperliquid", fetch, classes={}, sleep=sleep)
    published = Published()
    try:
        with pytest.raises(asyncio.CancelledError):
            await poller.run(published)
    finally:
        await runner.cleanup()

    assert poller.errors == 2
    assert poller.baseline is None
    assert published.batches == []


async def test_calendar_watcher_feeds_the_apps_pipeline(tmp_path):
    from monitor.runtime.embedded import run_app

    calendar = tmp_path / "cme.csv"
    shutil.copy(MARGIN / "cme_metals_2025-12_2026-02.csv", calendar)
    watcher = CalendarWatcher(calendar, CLASSES, interval_s=0.05)

    async with run_app(Settings(), sources=[watcher], serve_http=False, log_alerts=False) as app:
        await until(lambda: len(app.engine.margin_changes) >= 18, timeout_s=10)

    silver = [c for c in app.engine.margin_changes if c.product == "SI" and c.new == 18]
    assert len(silver) == 1
    assert silver[0].tightening == pytest.approx(1 / 6)
