import asyncio
import subprocess
import sys

import msgspec

from monitor.clock import SimClock
from monitor.config import load
from monitor.replay.source import ReplaySource
from monitor.runtime.embedded import run_app
from monitor.state.keeper import StatePlan
from tests.conftest import KLINES

NEAR = KLINES / "NEARUSDT-1m-2025-11-21.csv"  # NEAR fell ~10% at 07:30-07:35 UTC
CUT = "1763709780000"  # 07:23 UTC: ten minutes before the crash alert


def split(tmp_path):
    rows = NEAR.read_text().splitlines()
    cut = next(i for i, row in enumerate(rows) if row.startswith(CUT))
    head, tail = tmp_path / "NEARUSDT-1m-head.csv", tmp_path / "NEARUSDT-1m-tail.csv"
    head.write_text("\n".join(rows[:cut]) + "\n")
    tail.write_text("\n".join([rows[0], *rows[cut:]]) + "\n")
    return head, tail


async def replay(path, warmup=()):
    clock = SimClock()
    settings = load(None, env={}, overrides={})
    source = ReplaySource([path], clock=clock)
    plan = StatePlan(warmup=tuple(warmup))
    async with run_app(
        settings, sources=[source], clock=clock, live=False, serve_http=False,
        log_alerts=False, state_plan=plan,
    ) as app:  # fmt: skip
        await asyncio.wait_for(app.pipeline_done.wait(), 60)
    return [msgspec.to_builtins(a) for a in app.alerts]


async def test_a_replay_warmed_up_from_earlier_klines_is_judged_like_the_long_run(tmp_path):
    head, tail = split(tmp_path)

    long_run = await replay(NEAR)
    cold = await replay(tail)
    warm = await replay(tail, warmup=[head])

    assert [a["state"] for a in long_run] == ["pending", "firing", "firing", "resolved"]
    assert warm == long_run  # same ids, times, evidence (z) and resolve
    assert cold != long_run  # judged against the prior volatility: other z, other resolve
    assert cold[0]["evidence"]["price_z"] != long_run[0]["evidence"]["price_z"]


def liqmon(*args):
    return subprocess.run(
        [sys.executable, "-m", "monitor", *map(str, args)], capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_replay_warmup_flag_reads_the_files_and_names_a_missing_one(tmp_path):
    head, tail = split(tmp_path)
    out = tmp_path / "alerts.jsonl"

    ok = liqmon("replay", tail, "--warmup", head, "--quiet", "--alerts-out", out)
    missing = liqmon("replay", tail, "--warmup", tmp_path / "nope.csv")

    assert ok.returncode == 0, ok.stderr
    assert "warm start: binance_usdm:NEAR-USDT-PERP 441 min" in ok.stderr
    assert '"price_z":-24.628' in out.read_text()  # the long run's z (the prior: -14.7)
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("nope.csv: no such file")
