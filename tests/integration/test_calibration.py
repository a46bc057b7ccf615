"""`liqmon evaluate --markdown` on a real excerpt of the 2026-02-05/06 waves (LTC klines)."""

from __future__ import annotations

import argparse

import pytest

from monitor import config
from monitor.evaluation import add_parser, read_labels, replay_recording, run
from monitor.evaluation.calibration import calibrate
from tests.conftest import FIXTURES, KLINES

SETTINGS = config.load(None, env={})
WAVES = KLINES / "LTCUSDT-1m-2026-02-05.csv.gz"  # real Binance klines, Feb 4 20:00 - Feb 6 01:00
LABELS = FIXTURES / "labels" / "ltc_waves.yaml"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="liqmon")
    add_parser(parser.add_subparsers(dest="command"), argparse.ArgumentParser(add_help=False))
    return parser.parse_args(["evaluate", *argv])


def test_every_wave_fires_before_its_low():
    rec = replay_recording(SETTINGS, WAVES)
    labels = read_labels(LABELS)

    cal = calibrate([rec], labels, SETTINGS.assets.classes)

    [row] = cal.rows
    assert [c.label.name for c in row.crashes] == ["LTC wave 1", "LTC wave 2", "LTC wave 3"]
    for crash in row.crashes:
        assert crash.caught, crash.label.name
        assert crash.fired_ns is not None
        assert crash.fired_ns <= crash.label.peak_ns
        assert crash.lead_s is not None
        assert crash.lead_s > 0
    assert cal.smallest == pytest.approx(0.053, abs=0.002)  # wave 2: 52.83 → 50.14 within the hour
    assert row.false_alarms == 0
    assert cal.passed


def test_markdown_table_names_every_wave_and_the_verdict(tmp_path, capsys):
    out = tmp_path / "calibration.md"

    code = run(parse("--labels", str(LABELS), str(WAVES), "--markdown", str(out)), SETTINGS)

    assert code == 0
    table = out.read_text()
    assert "| LTCUSDT-1m-2026-02-05.csv.gz | LTC | 3 of 3 | 0 | 0 |" in table
    for n in (1, 2, 3):
        assert "| LTC wave %d |" % n in table
    assert "Verdict: pass." in table
    assert "replaying 1/1" in capsys.readouterr().err


def test_unwritable_markdown_is_a_one_line_error(tmp_path, capsys):
    target = tmp_path / "missing" / "calibration.md"

    code = run(parse("--labels", str(LABELS), str(WAVES), "--markdown", str(target)), SETTINGS)

    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("liqmon: --markdown %s: cannot write:" % target)
