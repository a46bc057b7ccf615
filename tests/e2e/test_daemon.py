"""The daemon in-process and as a subprocess: HTTP endpoints, metrics moved by a replay."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.clock import SimClock
from monitor.config import load
from monitor.io.jsonl import EventWriter
from monitor.replay.source import ReplaySource
from monitor.runtime.embedded import run_app
from monitor.synth import Burst, liquidations
from tests.support.synth import T0_NS

pytestmark = pytest.mark.e2e
GUARD_S = 60.0


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(metrics, name, **labels):
    want = set(labels.items())
    return sum(v for (n, lbl), v in metrics.items() if n == name and want <= set(lbl))


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, await resp.text()


def settings():
    return load(None, env={}, overrides={"http.listen": "127.0.0.1:0"})


async def test_metrics_exist_at_zero_and_move_with_a_replay(burst_file):
    clock = SimClock()
    source = ReplaySource([burst_file], clock=clock)

    async with run_app(settings(), sources=[source], clock=clock, live=False) as app:
        await asyncio.wait_for(app.pipeline_done.wait(), GUARD_S)
        status, text = await get(app.http_port, "/metrics")
        health, _ = await get(app.http_port, "/healthz")
        market_usd = sum(app.engine.window_usd("market", "market", 3600))

    assert status == 200
    assert health == 200
    m = samples(text)
    assert total(m, "liqmon_liquidations_total") == 26390
    assert total(m, "liqmon_liquidated_notional_usd_total") > 1e8
    assert total(m, "liqmon_liquidations_total", exchange="bybit", position_side="long") > 0
    assert total(m, "liqmon_events_total", type="liquidation") == 26390
    assert total(m, "liqmon_alerts_total", kind="cascade", state="firing") >= 3
    assert total(m, "liqmon_build_info") == 1
    # initialised at start: a venue that sent nothing is there, at zero
    assert (
        m[
            (
                "liqmon_liquidations_total",
                (("exchange", "kraken_futures"), ("position_side", "short")),
            )
        ]
        == 0
    )
    assert total(m, "liqmon_alert_active", kind="cascade", scope="BTC") == 0  # resolved by the end
    # the engine's state gauges, read from it when /metrics was scraped (collector registered)
    window = total(m, "liqmon_window_liquidated_usd", scope="market", window="3600s")
    assert window == market_usd > 0
    assert total(m, "liqmon_watermark_timestamp_seconds") == app.engine.closed_sec


async def test_api_lists_the_firing_alert_and_readyz_reports(tmp_path):
    path = tmp_path / "ends-in-burst.jsonl"
    burst = (Burst("ETH", start_s=2400, duration_s=600, rate_per_s=20.0),)
    with EventWriter(path) as w:
        w.write_all(liquidations(start_ns=T0_NS, duration_s=3000, rate_per_s=2.0, bursts=burst))
    clock = SimClock()
    source = ReplaySource([path], clock=clock)

    async with run_app(settings(), sources=[source], clock=clock, live=False) as app:
        await asyncio.wait_for(app.sources_done.wait(), GUARD_S)
        await asyncio.wait_for(app.pipeline_done.wait(), GUARD_S)
        status, body = await get(app.http_port, "/api/v1/alerts")
        metrics = samples((await get(app.http_port, "/metrics"))[1])
        ready, ready_body = await get(app.http_port, "/readyz")

    assert status == 200
    firing = [a for a in json.loads(body)["alerts"] if a["state"] == "firing"]
    assert {a["scope"] for a in firing} >= {"ETH", "crypto", "market"}
    assert total(metrics, "liqmon_alert_active", kind="cascade", scope="ETH") == 1
    assert ready == 503  # the replay is over: the aggregator has stopped
    assert json.loads(ready_body)["checks"]["aggregator"] == "stopped"


async def test_idle_daemon_is_ready_and_serves_zeros():
    async with run_app(settings()) as app:
        ready, body = await get(app.http_port, "/readyz")
        text = (await get(app.http_port, "/metrics"))[1]

    assert ready == 200
    assert json.loads(body)["checks"]["sources"] == "none configured"
    assert total(samples(text), "liqmon_liquidations_total") == 0
    assert (
        "liqmon_window_liquidated_usd",
        (("position_side", "long"), ("scope", "BTC"), ("window", "60s")),
    ) in samples(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_liqmon_run_serves_http_and_stops_cleanly_on_sigterm():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
    env["LIQMON_SOURCES__ENABLED"] = "[]"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--metrics-addr", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        status, _ = asyncio.run(get(port, "/healthz"))
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=GUARD_S)

    assert proc.returncode == 0
    assert "no venue configured" in err


async def test_offline_daemon_retries_quietly_and_reports_venues_down(tmp_path, caplog):
    from monitor.sources import SOURCES
    from monitor.sources.backoff import Backoff
    from monitor.sources.runner import RunnerPolicy

    cfg = load(
        None, env={},
        overrides={
            "http.listen": "127.0.0.1:0",
            "sources.endpoint_override": {"bybit": "ws://127.0.0.1:9", "okx": "ws://127.0.0.1:9"},
            "sources.rest_override": {"bybit": "http://127.0.0.1:9", "okx": "http://127.0.0.1:9"},
            "sources.cache_dir": str(tmp_path),
        },
    )  # fmt: skip
    policy = RunnerPolicy(backoff=Backoff(0.01, 0.02, seed=1), ping_interval_s=None)
    caplog.set_level(logging.INFO, logger="monitor.sources")
    async with run_app(cfg, venues=[SOURCES["bybit"], SOURCES["okx"]], policy=policy) as app:
        await asyncio.sleep(1.5)  # dozens of refused connects per stream
        ready, body = await get(app.http_port, "/readyz")
        health, _ = await get(app.http_port, "/healthz")
        metrics = samples((await get(app.http_port, "/metrics"))[1])

    assert health == 200  # still serving
    assert ready == 503
    checks = json.loads(body)["checks"]
    # why, as the log says it: the refused connection's own error text
    assert checks["okx/liquidations"].startswith("down (error: ")
    assert "refused" in checks["okx/liquidations"].lower()
    attempts = total(metrics, "liqmon_ws_reconnects_total", exchange="okx", stream="liquidations")
    assert attempts >= 10
    down_lines = [r for r in caplog.records if "down (" in r.getMessage()]
    streams = {r.getMessage().split()[1] for r in down_lines}
    assert len(down_lines) == len(streams)  # one line per stream, however many retries
