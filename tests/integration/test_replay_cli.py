"""`liqmon replay` and `liqmon check-config` through `main()`, on real and synthetic data."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.io.jsonl import read_events
from tests.conftest import FIXTURES, KLINES

NEAR = KLINES / "NEARUSDT-1m-2025-11-21.csv"  # real Binance klines, 00:00-10:00 UTC
AVAX = KLINES / "AVAXUSDT-1m-2025-02-03.csv"  # real Binance klines, Feb 2 16:00 - Feb 3 04:00


def ns(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M")) * 1_000_000_000


def replay(tmp_path: Path, *args: str) -> tuple[int, list]:
    out = tmp_path / "alerts.jsonl"
    code = main(["replay", *args, "--alerts-out", str(out), "--quiet"])
    alerts = list(read_events(out)) if out.exists() else []
    return code, alerts


def test_real_crash_fires_during_the_crash_and_not_in_calm_hours(tmp_path):
    code, alerts = replay(tmp_path, str(NEAR))

    assert code == 0
    firing = [a for a in alerts if a.state == "firing"]
    assert firing, "the 2025-11-21 07:34 crash must fire"
    assert all(a.scope == "NEAR" and a.kind == "cascade" for a in firing)
    assert all(ns("2025-11-21 07:25") <= a.ts_ns <= ns("2025-11-21 07:40") for a in firing)
    assert any(a.severity == "critical" for a in firing)
    calm = [a for a in alerts if a.ts_ns < ns("2025-11-21 07:25")]
    assert calm == []  # nothing at all, not even pending, in the seven calm hours


def test_second_real_crash_fires_before_its_low(tmp_path):
    code, alerts = replay(tmp_path, str(AVAX))

    assert code == 0
    firing = [a.ts_ns for a in alerts if a.state == "firing" and a.scope == "AVAX"]
    assert any(ns("2025-02-03 01:45") <= t <= ns("2025-02-03 02:08") for t in firing)
    assert not [a for a in alerts if a.ts_ns < ns("2025-02-02 22:00")]


def test_synthetic_burst_raises_cascade_and_calm_raises_nothing(tmp_path, burst_file, calm_file):
    code, alerts = replay(tmp_path, str(burst_file))
    (tmp_path / "calm").mkdir()
    calm_code, calm_alerts = replay(tmp_path / "calm", str(calm_file))

    assert code == calm_code == 0
    fired = {(a.kind, a.scope) for a in alerts if a.state == "firing"}
    assert ("cascade", "BTC") in fired
    btc = next(a for a in alerts if a.state == "firing" and a.scope == "BTC")
    assert btc.evidence["long_usd"] > btc.evidence["short_usd"]
    assert btc.ts_ns >= 1_767_225_600_000_000_000 + 5400 * 10**9  # not before the burst
    assert calm_alerts == []


def test_replay_is_deterministic_byte_for_byte(tmp_path, burst_file):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"

    assert main(["replay", str(burst_file), "--alerts-out", str(a), "--quiet"]) == 0
    assert main(["replay", str(burst_file), "--alerts-out", str(b), "--quiet"]) == 0

    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size > 0


def test_replay_prints_readable_alert_lines(capsys, burst_file):
    assert main(["replay", str(burst_file)]) == 0

    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert any("FIRING" in line and "cascade BTC wave 1" in line for line in out)
    assert "replayed 26390 events" in captured.err  # the summary goes to stderr


def test_malformed_line_exits_2_naming_the_line_and_keeps_earlier_events(
    tmp_path, capsys, burst_file
):
    lines = burst_file.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:6], '{"type": "liquidation", "price": "x"}', *lines[6:]]))

    code = main(["replay", str(bad), "--quiet"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"liqmon: {bad}:7: " in err
    assert "(6 events before it were replayed)" in err  # the six good lines went through
    assert len(err.strip().splitlines()) == 1


def test_malformed_line_deep_in_a_big_file_keeps_every_earlier_event(tmp_path, capsys, burst_file):
    # 20,000 good lines (several read chunks, more than one publish batch), then a bad one
    lines = burst_file.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:20_000], '{"type": "tick", "price": 1}', *lines[20_000:]]))

    code = main(["replay", str(bad), "--fast", "--quiet"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"liqmon: {bad}:20001: " in err
    assert "(20000 events before it were replayed)" in err


def test_kline_with_bad_row_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "NEARUSDT-1m-2025-11.csv"
    rows = [*NEAR.read_text().splitlines()[:5], "1763683200000,abc,1,1,1,0,0,0,0,0,0,0"]
    path.write_text("\n".join(rows) + "\n")

    assert main(["replay", str(path), "--quiet"]) == 2
    assert f"{path}:6: not a kline row" in capsys.readouterr().err


def test_unwritable_alerts_out_exits_2(capsys, tmp_path, burst_file):
    target = tmp_path / "no-such-dir" / "alerts.jsonl"

    assert main(["replay", str(burst_file), "--alerts-out", str(target)]) == 2
    assert capsys.readouterr().err.startswith(f"liqmon: --alerts-out {target}: cannot write")


def test_missing_file_exits_2(capsys, tmp_path):
    assert main(["replay", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "key"),
    [("unknown_key.yaml", "aggregate.bogus"), ("bad_port.yaml", "http.listen")],
)
def test_bad_config_exits_2_naming_the_key(capsys, burst_file, name, key):
    code = main(["replay", str(burst_file), "--config", str(FIXTURES / "configs" / name)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("liqmon: config: %s:" % key)
    assert len(err.strip().splitlines()) == 1


def test_check_config_prints_effective_config_with_secrets_masked(capsys, monkeypatch):
    monkeypatch.setenv("LIQMON_HTTP__API_TOKEN", "s3cr3t-token")
    monkeypatch.setenv("LIQMON_AGGREGATE__GRACE_MS", "750")

    assert main(["check-config"]) == 0

    out = capsys.readouterr().out
    assert "grace_ms: 750" in out
    assert "api_token: '**********'" in out
    assert "s3cr3t" not in out


def test_check_config_bad_env_value_exits_2(capsys, monkeypatch):
    monkeypatch.setenv("LIQMON_AGGREGATE__GRACE_MS", "-1")

    assert main(["check-config"]) == 2
    assert "aggregate.grace_ms" in capsys.readouterr().err
