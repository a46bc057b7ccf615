"""The Kafka aggregate role keeps its TradFi sessions fed, as ``liqmon run`` does.

A live aggregate role (no ingest) on a real broker, with Binance USDⓈ-M enabled against a
local server serving the venue's ``tradingSchedule`` and the fake exchange pushing a
``tradingSession`` halt: both reach the cross stage's calendar, which its engines use.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from monitor import config
from monitor.config import KafkaSettings
from monitor.runtime.kafka.roles import run_kafka
from tests.support.fake_exchange import FakeExchange, Send, Stall
from tests.unit.sources.test_rest_polls import venue
from tests.unit.sources.test_session_stream import NOON, halt

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def test_the_aggregate_role_fetches_the_schedule_and_follows_the_session_stream(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    halted = {"tradingSession": [[Send(halt()), Stall(60.0)]]}
    async with venue() as (url, asked), FakeExchange([[Stall(60.0)]], halted) as fx:
        settings = config.load(
            None, env={},
            overrides={
                "bus.kind": "kafka",
                "bus.kafka": msgspec.to_builtins(kafka_settings),
                "sources.enabled": ["binance_usdm"],
                "sources.rest_override": {"binance_usdm": url},
                "sources.endpoint_override": {"binance_usdm": fx.url},
                "state.dir": str(tmp_path),
            },
        )  # fmt: skip
        async with run_kafka(
            settings, ingest=False, serve_http=False, log_alerts=False, group="sessions"
        ) as agg:
            assert agg.cross is not None
            calendar = agg.cross.sessions
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline:
                streamed = calendar.session_at("EQUITY", NOON * 1_000_000) == "NO_TRADING"
                if streamed and set(calendar.published) == {"EQUITY", "COMMODITY"}:
                    break
                await asyncio.sleep(0.2)

    assert ("tradingSchedule", "") in asked
    assert set(calendar.published) == {"EQUITY", "COMMODITY"}  # the schedule, fetched
    assert streamed  # the tradingSession push reached the cross stage's calendar
    assert (tmp_path / "sessions").is_dir()  # cached for an offline restart
