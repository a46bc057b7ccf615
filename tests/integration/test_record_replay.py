"""Record a live run against the fake exchange, replay the tape: the same events come out."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import pytest

from monitor.cli import main
from monitor.config import load
from monitor.events import INPUT_TOPICS
from monitor.io.jsonl import read_events
from monitor.runtime.embedded import run_app
from monitor.sources import SOURCES
from monitor.sources.backoff import Backoff
from monitor.sources.recorder import CatalogueRecord, RawRecord, Recorder, read_raw
from monitor.sources.runner import RunnerPolicy
from tests.conftest import FIXTURES
from tests.support.fake_exchange import FakeExchange, Send, Stall

pytestmark = pytest.mark.integration
GUARD_S = 30.0
PAYLOADS = FIXTURES / "payloads" / "binance_usdm"


def binance_routes():
    liq = (PAYLOADS / "forceOrder_combined.json").read_text().strip()
    later = re.sub(r"(?<!\d)(1\d{12})(?!\d)", lambda m: str(int(m.group(1)) + 1000), liq)
    assert later != liq
    marks = (PAYLOADS / "markPrice_combined.json").read_text().strip()
    return {
        "forceOrder": [[Send(liq), Send("not json"), Send(liq), Send(later), Stall(60)]],
        "markPrice": [[Send(marks), Stall(60)]],
    }


def settings_for(fx_url: str, tmp_path):
    return load(
        None,
        env={},
        overrides={
            "http.listen": "127.0.0.1:0",
            "sources.enabled": ["binance_usdm"],
            "sources.endpoint_override": {"binance_usdm": fx_url},
            # the recorded payloads carry their 2022 times: let them through the time bound
            "sources.max_clock_skew_s": 10**10,
            "sources.rest_override": {"binance_usdm": "http://127.0.0.1:9"},  # refused: offline
            "sources.cache_dir": str(tmp_path / "cache"),
            "sources.symbols": {"binance_usdm": ["BTCUSDT", "XAUUSDT"]},
        },
    )


async def test_raw_replay_gives_the_events_of_the_live_run(tmp_path):
    tape = tmp_path / "tape.jsonl"
    recorder = Recorder(tape)
    policy = RunnerPolicy(backoff=Backoff(0.01, 0.05, seed=1), ping_interval_s=None)
    live = []
    async with FakeExchange([[Stall(60)]], routes=binance_routes()) as fx:
        settings = settings_for(fx.url, tmp_path)
        async with run_app(
            settings, venues=[SOURCES["binance_usdm"]], recorder=recorder, policy=policy
        ) as app:
            tap = app.bus.subscribe(INPUT_TOPICS, "tap")
            async with asyncio.timeout(GUARD_S):
                async for batch in tap.batches(1000, 50):
                    live += batch
                    if sum(e.__class__.__name__ == "Liquidation" for e in live) >= 2 and any(
                        e.__class__.__name__ == "Tick" for e in live
                    ):
                        break
            ready = app.health.checks()
    recorder.close()

    assert ready["binance_usdm/liquidations"].startswith("up")
    records = list(read_raw(tape))
    assert isinstance(records[0], CatalogueRecord)
    assert sum(isinstance(r, RawRecord) for r in records) >= 5  # the garbage frame is on tape too
    out = tmp_path / "events.jsonl"
    args = ["replay", str(tape), "--format", "raw", "--events-out", str(out), "--quiet"]
    assert await asyncio.to_thread(main, args) == 0
    replayed = list(read_events(out))
    key = lambda e: (e.__class__.__name__, e.ts_event_ns, e.symbol)  # noqa: E731
    assert sorted(replayed, key=key) == sorted(live, key=key)
    liqs = [e for e in replayed if e.__class__.__name__ == "Liquidation"]
    assert len(liqs) == 2  # the repeated frame was deduplicated, as live


async def test_liqmon_record_cli_writes_a_replayable_tape(tmp_path):
    tape = tmp_path / "cli-tape.jsonl"
    async with FakeExchange([[Stall(60)]], routes=binance_routes()) as fx:
        cfg = tmp_path / "liqmon.yaml"
        cfg.write_text(
            "sources:\n"
            "  enabled: [binance_usdm]\n"
            f"  endpoint_override: {{binance_usdm: '{fx.url}'}}\n"
            "  rest_override: {binance_usdm: 'http://127.0.0.1:9'}\n"
            f"  cache_dir: '{tmp_path / 'cache'}'\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMON_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "record", "--config", str(cfg),
            "--duration-s", "3", "--out", str(tape),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        async with asyncio.timeout(GUARD_S):
            _, err = await proc.communicate()

    assert proc.returncode == 0, err.decode()
    assert "recorded" in err.decode()
    frames = [r for r in read_raw(tape) if isinstance(r, RawRecord)]
    assert {r.stream for r in frames} == {"liquidations", "prices"}
    out = tmp_path / "cli-events.jsonl"
    args = ["replay", str(tape), "--events-out", str(out), "--quiet"]  # --format auto: raw
    assert await asyncio.to_thread(main, args) == 0
    assert sum(1 for e in read_events(out) if e.__class__.__name__ == "Liquidation") == 2
