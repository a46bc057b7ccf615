"""Instrument catalogues from a local REST server: fetch, cache, offline fallbacks."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from monitor.sources import SOURCES
from monitor.sources.catalogue import load_instruments, read_cache
from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration
BYBIT = FIXTURES / "payloads" / "bybit"


async def serve_bybit(status: int = 200):
    async def instruments(request: web.Request) -> web.Response:
        category = request.query.get("category", "linear")
        if status != 200:
            return web.Response(status=status)
        return web.Response(body=(BYBIT / f"instruments_{category}.json").read_bytes())

    app = web.Application()
    app.router.add_get("/v5/market/instruments-info", instruments)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, "http://127.0.0.1:%d" % port


async def test_fetches_caches_and_falls_back_to_the_cache(tmp_path, caplog):
    bybit = SOURCES["bybit"]
    runner, url = await serve_bybit()
    try:
        fresh = await load_instruments(
            bybit, {"XAU": "metal"}, cache_dir=tmp_path, rest_override=url
        )
    finally:
        await runner.cleanup()

    assert fresh
    assert {i.category for i in fresh} >= {"linear", "inverse"}
    assert read_cache(tmp_path, "bybit") == fresh
    caplog.set_level(logging.WARNING)
    offline = await load_instruments(
        bybit, {}, cache_dir=tmp_path, rest_override="http://127.0.0.1:9", timeout_s=2
    )
    assert offline == fresh
    assert "using the cache" in caplog.text


async def test_a_server_error_and_no_cache_use_the_seed_symbols(tmp_path, caplog):
    runner, url = await serve_bybit(status=503)
    caplog.set_level(logging.WARNING)
    try:
        seeded = await load_instruments(
            SOURCES["bybit"], {"XAU": "metal"}, cache_dir=tmp_path, seeds=["BTCUSDT", "XAUUSDT"],
            rest_override=url,
        )  # fmt: skip
    finally:
        await runner.cleanup()

    assert [(i.venue_symbol, i.asset_class) for i in seeded] == [
        ("BTCUSDT", "crypto"), ("XAUUSDT", "metal"),
    ]  # fmt: skip
    assert "no cache; using 2 configured symbols" in caplog.text
    assert read_cache(tmp_path, "bybit") is None


async def test_refresh_adds_new_instruments_to_the_live_book(tmp_path):
    from prometheus_client import CollectorRegistry

    from monitor.clock import SystemClock
    from monitor.observability.source_metrics import SourceMetrics
    from monitor.sources.base import InstrumentBook
    from monitor.sources.health import SourceHealth
    from monitor.sources.manager import SourceOptions, VenueRunner
    from monitor.sources.runner import RunnerPolicy

    bybit = SOURCES["bybit"]
    runner, url = await serve_bybit()
    health = SourceHealth(SourceMetrics(CollectorRegistry()))
    options = SourceOptions(
        classes={}, cache_dir=tmp_path, seeds={}, health=health, policy=RunnerPolicy(),
        clock=SystemClock(), capacity=10, on_drop=lambda r, n: None,
        rest_override={"bybit": url}, endpoint_override={},
    )  # fmt: skip
    book = InstrumentBook("bybit", [bybit.fallback("BTCUSDT", {})], {}, bybit.fallback)
    try:
        new = await VenueRunner(bybit, options).refresh(book)
    finally:
        await runner.cleanup()

    cached = read_cache(tmp_path, "bybit")
    assert cached
    catalogue = {i.venue_symbol for i in cached}
    assert new == len(catalogue - {"BTCUSDT"})
    assert {i.venue_symbol for i in book.all()} == catalogue | {"BTCUSDT"}
