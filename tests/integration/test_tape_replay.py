"""A recorded Bybit liquidation tape, converted and replayed: the burst alerts are scored."""

from __future__ import annotations

import io
import json

import pytest

from monitor import config
from monitor.errors import InputError
from monitor.evaluation.command import replay_recording
from monitor.evaluation.tape_convert import convert, rows
from monitor.evaluation.tapes_command import score_tape

pytestmark = pytest.mark.slow
T0 = 1_707_782_400_000  # 2024-02-13 00:00 UTC, ms


def tape_lines():
    """Two quiet hours of one small BTC long liquidation a minute, then a one-sided burst."""
    lines = []
    for s in range(3 * 3600):
        items = []
        if s < 7200 and s % 60 == 7:
            items.append({"updateTime": T0 + s * 1000, "symbol": "BTCUSDT", "side": "Buy",
                          "size": "0.01", "price": "49000.0"})  # fmt: skip
        if 7800 <= s < 7900:
            items.append({"updateTime": T0 + s * 1000, "symbol": "BTCUSDT", "side": "Buy",
                          "size": "5", "price": "48000.0"})  # fmt: skip
        lines.append(json.dumps({"t": T0 + s * 1000, "d": items}))
    return lines


def test_a_converted_tape_replays_through_the_bybit_adapter_and_scores(tmp_path):
    src = tmp_path / "liquidations_BTC_2024-02-13.jsonl"
    src.write_text("\n".join(tape_lines()) + "\n")
    out = tmp_path / "tape.csv"
    with out.open("w") as fh:
        assert convert([src], fh) == 120 + 100
    first = out.read_text().splitlines()[1].split(",")
    assert first[0] == "bybit"
    assert first[5] == "sell"  # position Buy: a long was closed

    (btc,) = score_tape(config.load(None, env={}), out)
    assert btc.asset == "BTC"
    assert btc.days == 1
    assert btc.incidents == 1  # the burst, not the quiet minutes
    assert btc.quiet_incidents == 0
    assert btc.busy_share == 1.0


def test_a_bad_line_is_named():
    with pytest.raises(InputError, match=r"t\.jsonl:2: not a liquidation record"):
        list(rows(iter(['{"t": 1, "d": []}', "oops"]), "t.jsonl"))


def test_convert_writes_the_tardis_header(tmp_path):
    src = tmp_path / "empty.jsonl"
    src.write_text('{"t": 1, "d": []}\n')
    buf = io.StringIO()
    assert convert([src], buf) == 0
    assert buf.getvalue().startswith("exchange,symbol,timestamp,local_timestamp,id,side")


def test_a_burst_alert_says_how_rare_its_window_is(tmp_path):
    src = tmp_path / "tape.jsonl"
    src.write_text("\n".join(tape_lines()) + "\n")
    out = tmp_path / "tape.csv"
    with out.open("w") as fh:
        convert([src], fh)
    rec = replay_recording(config.load(None, env={}), out)
    btc = next(a for a in rec.alerts if a.scope == "BTC")
    assert btc.evidence["return_period_days"] > 14  # the prior's tail: far past the budget
    assert btc.evidence["budget_z"] <= btc.evidence["z"]
    assert "rarer than 1-in-1000-days for BTC" in btc.summary
