"""The operator side end to end, with the real parts (issue 6).

liqmon runs in-process against the fake exchange playing a live Binance liquidation burst.
A real Prometheus (Debian's package) scrapes it and evaluates the shipped rules; a real
Alertmanager with the shipped routes and templates delivers to a local webhook receiver.
The cascade alert must arrive with its labels and summary; stopping the fake venue must
bring a source-down alert. Then every query of every shipped board runs against that
Prometheus and must parse and return data.

The shipped ``for:`` durations and Alertmanager group timings are shortened for the test
(rewritten in a temporary copy); expressions, labels, annotations and routes are the shipped
ones.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from monitor.config import load
from monitor.runtime.embedded import run_app
from monitor.sources import SOURCES
from monitor.sources.backoff import Backoff
from monitor.sources.runner import RunnerPolicy
from tests.support.fake_exchange import FakeExchange, SendNow, Stall
from tests.support.promstack import alertmanager, prometheus, query
from tests.support.webhook_receiver import receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CASCADE_ALERT = "LiqmonCascadeFiring"
SOURCE_DOWN_ALERT = "LiqmonSourceDown"
GUARD_S = 120.0


def force_order(qty: float = 100.0, price: float = 60_000.0) -> str:
    ms = time.time_ns() // 1_000_000
    order = {
        "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": str(qty), "p": str(price),
        "ap": str(price), "X": "FILLED", "l": str(qty), "z": str(qty), "T": ms,
    }  # fmt: skip
    return json.dumps(
        {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": ms, "o": order}}
    )


def mark_price() -> str:
    ms = time.time_ns() // 1_000_000
    row = {"e": "markPriceUpdate", "E": ms, "s": "BTCUSDT", "p": "60000.0", "i": "60000.0",
           "P": "60000.0", "r": "0.0001", "T": ms + 3_600_000}  # fmt: skip
    return json.dumps({"stream": "!markPrice@arr@1s", "data": [row]})


def venue_routes() -> dict:
    burst = []
    for _ in range(6):  # 6 × $6M of BTC longs in ~3 s: far over the $5M BTC floor
        burst += [SendNow(force_order), Stall(0.5)]
    prices = []
    for _ in range(600):
        prices += [SendNow(mark_price), Stall(1.0)]
    return {"forceOrder": [[*burst, Stall(600)]], "markPrice": [prices]}


def shortened(text: str) -> str:
    """Shorten `for:` durations (and nothing else) for the test."""
    return re.sub(r"(?m)^(\s*for:\s*)\S+\s*$", r"\g<1>1s", text)


def prepare_prometheus(tmp: Path, target: str, am_url: str) -> Path:
    rules = tmp / "rules"
    rules.mkdir()
    for rule_file in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        (rules / rule_file.name).write_text(shortened(rule_file.read_text()))
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: ['%s/*.yml']\n"
        "alerting:\n  alertmanagers: [{static_configs: [{targets: ['%s']}]}]\n"
        "scrape_configs:\n  - job_name: liqmon\n    static_configs: [{targets: ['%s']}]\n"
        % (rules, am_url.removeprefix("http://"), target)
    )
    return config


def prepare_alertmanager(tmp: Path, webhook_url: str) -> Path:
    source = DEPLOY / "alertmanager"
    work = tmp / "alertmanager"
    shutil.copytree(source, work)
    text = (work / "alertmanager.yml").read_text()
    text = re.sub(r"http://liqmon-webhook[^\s'\"]*", webhook_url, text)
    text = re.sub(r"(group_wait|group_interval):\s*\S+", r"\g<1>: 1s", text)
    text = re.sub(r"repeat_interval:\s*\S+", "repeat_interval: 1h", text)
    text = text.replace("/etc/alertmanager/", "%s/" % work)
    config = work / "alertmanager.yml"
    config.write_text(text)
    secrets = work / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in re.findall(r"%s/secrets/([\w.-]+)" % re.escape(str(work)), text):
        (secrets / name).write_text("dummy-secret-for-tests\n")
    return config


def daemon_settings(tmp: Path, venue_url: str):
    return load(
        None, env={},
        overrides={
            "http.listen": "127.0.0.1:0",
            "sources.enabled": ["binance_usdm"],
            "sources.endpoint_override": {"binance_usdm": venue_url},
            "sources.rest_override": {"binance_usdm": "http://127.0.0.1:9"},
            "sources.cache_dir": str(tmp / "cache"),
            "sources.symbols": {"binance_usdm": ["BTCUSDT"]},
            "detect.lifecycle.for_s": 2,
            "aggregate.grace_ms": 500,
        },
    )  # fmt: skip


def alerts_named(body: dict, name: str) -> list[dict]:
    return [a for a in body.get("alerts", []) if a.get("labels", {}).get("alertname") == name]


async def test_cascade_and_source_down_reach_the_webhook_and_every_board_query_has_data(tmp_path):
    from tests.support.dashboards import iter_queries

    policy = RunnerPolicy(backoff=Backoff(0.05, 0.2, seed=1), ping_interval_s=None)
    async with (
        receiver() as hook,
        FakeExchange([[Stall(600)]], routes=venue_routes()) as fx,
    ):
        settings = daemon_settings(tmp_path, fx.url)
        async with (
            run_app(settings, venues=[SOURCES["binance_usdm"]], policy=policy) as app,
            alertmanager(prepare_alertmanager(tmp_path, hook.url), tmp_path) as am,
            prometheus(
                prepare_prometheus(tmp_path, "127.0.0.1:%d" % app.http_port, am.url), tmp_path
            ) as prom,
        ):
            body = await hook.wait_for(lambda b: bool(alerts_named(b, CASCADE_ALERT)), GUARD_S)
            cascade = alerts_named(body, CASCADE_ALERT)[0]

            results = [(u, t, e, await query(prom.url, e)) for u, t, e in iter_queries()]

            await fx.stop()  # the venue goes away
            down = await hook.wait_for(lambda b: bool(alerts_named(b, SOURCE_DOWN_ALERT)), GUARD_S)

    labels = cascade["labels"]
    assert labels["scope"] in {"BTC", "crypto", "market"}
    assert labels["severity"] in {"warning", "critical"}
    assert labels.get("kind") == "cascade"
    assert cascade["annotations"]["summary"].startswith(
        "Liquidation cascade on %s" % labels["scope"]
    )
    assert cascade["status"] == "firing"
    source = alerts_named(down, SOURCE_DOWN_ALERT)[0]["labels"]
    assert source["exchange"] == "binance_usdm"
    failed = [(u, t, e, r.get("error")) for u, t, e, r in results if r.get("status") != "success"]
    empty = [
        (u, t, e)
        for u, t, e, r in results
        if r.get("status") == "success" and not r["data"]["result"]
    ]
    assert len(results) >= 50  # every board's queries were run, not a vacuous subset
    assert failed == []
    assert empty == []
