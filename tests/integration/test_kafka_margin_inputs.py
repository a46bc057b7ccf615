"""Margin inputs in the Kafka roles, on a real broker: the ingest role owns them.

A live ingest role (HTTP on, a calendar, a risk-tier poller against a local tier server) and
a live aggregate role run side by side, as ``liqmon ingest`` and ``liqmon aggregate`` do.
A margin change POSTed to the ingest role's port, the calendar's rows and the poller's
changes reach the aggregate role's engine (its margin metrics on its own HTTP port); a
change posted twice, or posted after the calendar published it, is on the margin topic once.
And ``liqmon ingest`` itself, as deployed (a child process configured by env), serves the
POST and runs its calendar: both land on the margin topic, once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import msgspec
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from monitor import config
from monitor.codec import encode
from monitor.config import KafkaSettings, Settings
from monitor.events import TOPIC_MARGIN, MarginChange
from monitor.margin.calendar import parse_calendar
from monitor.margin.http import PATH
from monitor.runtime.kafka.roles import KafkaHandle, run_kafka
from tests.integration.test_margin_inputs import MARGIN, SILVER, TOKEN, TierServer, serve
from tests.support.kafka_read import read_topic
from tests.support.wait import until

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

# in no calendar, so its scope's tightening shows this change only
TESLA = {**SILVER, "product": "TSLA", "asset": "TSLA", "asset_class": "equity", "new": 18.75}


def make_settings(kafka: KafkaSettings, tmp_path: Path, tiers_url: str) -> Settings:
    calendar = tmp_path / "cme.csv"
    shutil.copy(MARGIN / "cme_metals_2025-12_2026-02.csv", calendar)
    return config.load(
        None,
        env={"LIQMON_HTTP__API_TOKEN": TOKEN},
        overrides={
            "http.listen": "127.0.0.1:0",
            "bus.kind": "kafka",
            "bus.kafka": msgspec.to_builtins(kafka),
            "state.dir": str(tmp_path / "state"),
            "sources.enabled": ["hyperliquid"],
            "margin.calendars": [str(calendar)],
            "margin.calendar_check_s": 0.2,
            "margin.pollers": ["hyperliquid"],
            "margin.poll_interval_s": 0.2,
            "margin.rest_override": {"hyperliquid": tiers_url},
        },
    )


async def post(port: int, body: object) -> tuple[int, dict[str, list[str]]]:
    headers = {"Authorization": "Bearer %s" % TOKEN}
    async with aiohttp.ClientSession() as session:
        url = "http://127.0.0.1:%d%s" % (port, PATH)
        async with session.post(url, json=body, headers=headers) as resp:
            return resp.status, await resp.json()


async def margin_metrics(port: int) -> dict[str, float]:
    """Return ``liqmon_margin_changes_total`` summed, and the tightening per scope."""
    url = "http://127.0.0.1:%d/metrics" % port
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        text = await resp.text()
    out: dict[str, float] = {"changes": 0.0}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "liqmon_margin_changes_total":
                out["changes"] += s.value
            elif s.name == "liqmon_margin_tightening_ratio":
                out[s.labels["scope"]] = s.value
    return out


async def margin_topic_ids(kafka: KafkaSettings) -> list[str]:
    """Read the whole margin topic; return the event ids in it (duplicates kept)."""
    events = await read_topic(kafka, TOPIC_MARGIN)
    assert all(isinstance(e, MarginChange) for e in events)
    return [e.event_id for e in events if isinstance(e, MarginChange)]


def engine_ids(handle: KafkaHandle) -> set[str]:
    assert handle.cross is not None
    return {c.event_id for c in handle.cross.engine.margin_changes}


async def test_margin_inputs_of_the_ingest_role_reach_the_aggregate_role_once(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange: a tier server whose Hyperliquid tiers change after the poller's baseline
    tiers = TierServer()
    runner, url = await serve(web.post("/info", tiers.hyperliquid))
    settings = make_settings(kafka_settings, tmp_path, url)
    path = settings.margin.calendars[0]
    text = (tmp_path / "cme.csv").read_text()
    rows = parse_calendar(text, path, settings.assets.classes).events
    listed = {c.event_id for c in rows}
    group = "g-%s" % uuid.uuid4().hex[:8]

    def arrived(agg: KafkaHandle, posted: str) -> bool:
        ids = engine_ids(agg)
        polled = [i for i in ids if i.startswith("hyperliquid:")]
        return posted in ids and listed <= ids and len(polled) >= 2

    try:
        async with asyncio.timeout(120):
            async with (
                run_kafka(settings, aggregate=False, margin_inputs=True, log_alerts=False) as ing,
                run_kafka(settings, ingest=False, group=group, log_alerts=False) as agg,
            ):
                await until(lambda: len(tiers.requests) >= 1, 20)
                tiers.version = "_after"  # the next poll sees new tiers: new changes
                # Act
                first = await post(ing.http_port, TESLA)
                again = await post(ing.http_port, TESLA)
                posted = first[1]["accepted"][0]
                await until(lambda: arrived(agg, posted), 60)
                row = json.loads(encode(rows[0]))  # a calendar row, posted as the event
                relisted = await post(ing.http_port, row)
                await asyncio.sleep(1.0)  # what a wrongly published change would need
                seen = engine_ids(agg)
                shown = await margin_metrics(agg.http_port)
                on_ingest = await margin_metrics(ing.http_port)
        on_topic = await margin_topic_ids(kafka_settings)
    finally:
        await runner.cleanup()
    # Assert: the POST answers; a duplicate is named, not published
    assert first[0] == 202
    assert again == (200, {"accepted": [], "duplicates": [posted]})
    assert relisted == (200, {"accepted": [], "duplicates": [rows[0].event_id]})
    # the aggregate engine has the POST, every calendar row and the poller's changes
    polled = {i for i in seen if i.startswith("hyperliquid:")}
    assert seen == {posted} | listed | polled
    assert len(polled) == 2  # the fixture's tier changes (test_margin_inputs: 2 per change)
    assert shown["changes"] == len(seen)
    assert shown["TSLA"] == pytest.approx(1 - SILVER["old"] / TESLA["new"])  # type: ignore[operator]
    assert on_ingest["changes"] == 0  # no engine in the ingest role
    # every change is on the margin topic exactly once
    counts = Counter(on_topic)
    assert set(counts) == seen
    assert max(counts.values()) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_liqmon_ingest_serves_the_margin_post_and_runs_its_calendars(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # Arrange: `liqmon ingest` as deployed, configured through the environment
    calendar = tmp_path / "cme.csv"
    shutil.copy(MARGIN / "cme_metals_2025-12_2026-02.csv", calendar)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
    env.update(
        LIQMON_SOURCES__ENABLED="[]",
        LIQMON_HTTP__API_TOKEN=TOKEN,
        LIQMON_MARGIN__CALENDARS="[%s]" % calendar,
        LIQMON_MARGIN__CALENDAR_CHECK_S="0.2",
        LIQMON_BUS__KAFKA__BOOTSTRAP_SERVERS=kafka_settings.bootstrap_servers,
        LIQMON_BUS__KAFKA__TOPIC_PREFIX=kafka_settings.topic_prefix,
        LIQMON_STATE__DIR=str(tmp_path / "state"),
    )
    kafka = config.load(None, env=env).bus.kafka
    text = calendar.read_text()
    listed = {c.event_id for c in parse_calendar(text, str(calendar), {}).events}
    command = [
        sys.executable, "-m", "monitor", "ingest", "--bus", "kafka",
        "--metrics-addr", "127.0.0.1:%d" % port,
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    on_topic: list[str] = []
    try:
        async with asyncio.timeout(60):
            while True:
                try:
                    status, body = await post(port, TESLA)
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.2)
            # Act: wait until the POST and every calendar row are on the margin topic
            while not ({*body["accepted"]} | listed) <= set(on_topic):
                await asyncio.sleep(0.5)
                on_topic = await margin_topic_ids(kafka)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    # Assert
    assert status == 202, body
    assert proc.returncode == 0, err.decode()[-2000:]
    assert set(on_topic) == {*body["accepted"]} | listed
    assert len(on_topic) == len(set(on_topic))
