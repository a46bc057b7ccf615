"""``liqmon run`` killed with SIGKILL in a firing cascade and started again (issue 14).

The daemon runs as a subprocess against the fake exchange playing a live Binance
liquidation burst, with the webhook sink pointed at a local receiver and its state saved
every 0.5 s. Once the cascade fires and a state holding it is on disk, the process is
killed (no shutdown, no final save) and started again with the same configuration: the
same alert id must be firing on ``/api/v1/alerts`` and in ``liqmon_alert_active``, and the
webhook must get no resolve and no new incident.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from monitor.state.store import StateStore
from tests.e2e.test_daemon import free_port, get
from tests.e2e.test_operator_stack import venue_routes
from tests.support.fake_exchange import FakeExchange, Stall
from tests.support.webhook_receiver import receiver

pytestmark = pytest.mark.e2e
GUARD_S = 120.0


def write_config(tmp: Path, port: int, venue_url: str, hook_url: str) -> Path:
    config = {
        "http": {"listen": "127.0.0.1:%d" % port},
        "sources": {
            "enabled": ["binance_usdm"],
            "endpoint_override": {"binance_usdm": venue_url},
            "rest_override": {"binance_usdm": "http://127.0.0.1:9"},
            "cache_dir": str(tmp / "cache"),
            "symbols": {"binance_usdm": ["BTCUSDT"]},
        },
        "detect": {"lifecycle": {"for_s": 2}},
        "aggregate": {"grace_ms": 500},
        "alerts": {"webhook": {"url": hook_url}},
        "margin": {"pollers": []},
        "state": {"dir": str(tmp / "state"), "save_interval_s": 0.5},
    }
    path = tmp / "liqmon.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            stdout=out, stderr=out, env=env,
        )  # fmt: skip


async def api_alerts(port: int) -> list[dict]:
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        try:
            status, body = await get(port, "/api/v1/alerts")
        except OSError:
            status = 0
        if status == 200:
            return list(json.loads(body)["alerts"])
        await asyncio.sleep(0.2)
    raise TimeoutError


async def saved_firing(store: StateStore, alert_id: str) -> None:
    async with asyncio.timeout(GUARD_S):
        while True:
            doc = store.read()
            tracks = doc["parts"]["engine"]["book"] if doc else []
            if any(t["alert_id"] == alert_id and t["state"] == "firing" for t in tracks):
                return
            await asyncio.sleep(0.2)


def is_cascade(state: str):
    return lambda b: b.get("kind") == "cascade" and b.get("state") == state


async def test_sigkill_in_a_firing_cascade_keeps_the_same_alert_and_sends_no_resolve(tmp_path):
    port = free_port()
    async with receiver() as hook, FakeExchange([[Stall(600)]], routes=venue_routes()) as fx:
        config = write_config(tmp_path, port, fx.url, hook.url)
        log = tmp_path / "daemon.log"
        proc = start(config, log)
        try:
            fired = await hook.wait_for(is_cascade("firing"), GUARD_S)
            await saved_firing(StateStore(tmp_path / "state", "run"), fired["alert_id"])
            proc.send_signal(signal.SIGKILL)
            proc.wait(GUARD_S)
            sent_before = len(hook.bodies)
            proc = start(config, log)
            after = await api_alerts(port)
            await asyncio.sleep(5.0)  # the venue replays its burst to the new connection
            status, metrics = await get(port, "/metrics")
            later = await api_alerts(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(GUARD_S)

    text = log.read_text()
    same = [a for a in after if a["alert_id"] == fired["alert_id"]]
    assert [a["state"] for a in same] == ["firing"], text[-2000:]
    assert fired["alert_id"] in {a["alert_id"] for a in later if a["state"] == "firing"}
    assert "state restored from" in text
    resolves = [b for b in hook.bodies if b.get("state") == "resolved"]
    assert resolves == []
    new_ids = {b["alert_id"] for b in hook.bodies[sent_before:] if b.get("scope") == fired["scope"]}
    assert new_ids <= {fired["alert_id"]}
    gauge = 'liqmon_alert_active{kind="cascade",scope="%s"} 1.0' % fired["scope"]
    assert status == 200
    assert gauge in metrics
