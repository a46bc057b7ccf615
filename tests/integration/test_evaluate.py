"""`liqmon evaluate`: replay a synthetic recording with a known burst, score it against labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from monitor import config
from monitor.evaluation import Recording, Rules, add_parser, read_labels, replay_recording, run
from monitor.evaluation.labels import Label, parse_time
from monitor.evaluation.scoring import score
from monitor.events import Alert
from tests.conftest import FIXTURES

SETTINGS = config.load(None, env={})
LABELS = FIXTURES / "labels"
NS = 1_000_000_000
ONSET = parse_time("2026-01-01T01:30:00Z")
PEAK = parse_time("2026-01-01T01:35:00Z")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="liqmon")
    add_parser(parser.add_subparsers(dest="command"), argparse.ArgumentParser(add_help=False))
    return parser.parse_args(["evaluate", *argv])


@pytest.fixture(scope="module")
def recording(burst_file: Path) -> Recording:
    return replay_recording(SETTINGS, burst_file)


def first_btc_firing(rec: Recording) -> int:
    return min(a.ts_ns for a in rec.alerts if a.state == "firing" and a.scope == "BTC")


def test_known_burst_is_detected_with_the_expected_delay(tmp_path, capsys, burst_file, recording):
    out = tmp_path / "report.json"

    code = run(parse("--labels", str(LABELS / "burst.csv"), str(burst_file),
                     "--json-out", str(out)), SETTINGS)  # fmt: skip

    assert code == 0
    report = json.loads(out.read_text())
    fired = first_btc_firing(recording)
    assert report["recall"] == 1.0
    [label] = report["labels"]
    assert label["detected"]
    assert label["alert_scope"] == "BTC"
    assert label["delay_s"] == (fired - ONSET) / NS
    assert 0 < label["delay_s"] <= 120  # floor reached within the burst's first two minutes
    assert label["lead_s"] == (PEAK - fired) / NS
    assert report["median_delay_s"] == report["p90_delay_s"] == label["delay_s"]
    assert report["precision"] == 1.0
    assert report["false_alarms"] == 0
    assert report["asset_days"] == pytest.approx(8 * 2 / 24, rel=0.01)  # 8 assets, 2 h
    assert 0 < report["time_in_alert"] < 0.5
    table = capsys.readouterr().out
    assert "btc-burst" in table
    assert "1.000 (1 of 1)" in table


def test_yaml_labels_give_the_same_report(tmp_path, burst_file):
    a, b = tmp_path / "a.json", tmp_path / "b.json"

    assert run(parse("--labels", str(LABELS / "burst.csv"), str(burst_file),
                     "--json-out", str(a)), SETTINGS) == 0  # fmt: skip
    assert run(parse("--labels", str(LABELS / "burst.yaml"), str(burst_file),
                     "--json-out", str(b)), SETTINGS) == 0  # fmt: skip

    assert a.read_bytes() == b.read_bytes()


def test_a_label_without_alert_lowers_recall(recording):
    report = score([recording], read_labels(LABELS / "missed.csv"), SETTINGS.assets.classes)

    assert report.recall == 0.5
    missed = next(r for r in report.labels if r.label.scope == "ETH")
    assert missed.covered
    assert not missed.detected
    assert missed.delay_s is None


def test_an_alert_outside_every_label_is_a_false_alarm(recording):
    report = score([recording], read_labels(LABELS / "unlabelled.csv"), SETTINGS.assets.classes)

    assert report.recall == 0.0
    assert report.false_alarms >= 1
    assert report.precision == 0.0
    assert {i.scope for i in report.incidents if i.label is None} >= {"BTC"}
    assert report.false_alarms_per_asset_day == pytest.approx(
        sum(1 for i in report.incidents if i.scope == "BTC") / report.asset_days
    )


def alert(scope: str, state: str, minute: int, kind: str = "cascade") -> Alert:
    return Alert(
        alert_id="%s-%s" % (kind, scope), kind=kind, scope=scope, state=state,  # type: ignore[arg-type]
        severity="warning", wave=1, started_ns=minute * 60 * NS, ts_ns=minute * 60 * NS,
        summary="",
    )  # fmt: skip


def test_incidents_merge_within_the_cooldown_and_match_by_scope_hierarchy():
    alerts = [
        alert("XAG", "firing", 100), alert("XAG", "resolved", 110),
        alert("XAG", "firing", 135), alert("XAG", "resolved", 140),  # 25 min later: merged
        alert("XAG", "firing", 200), alert("XAG", "resolved", 205),  # 60 min later: new
        alert("metal", "firing", 102), alert("metal", "resolved", 108),  # its class: related
        alert("BTC", "firing", 91), alert("BTC", "resolved", 95),  # unrelated asset
    ]  # fmt: skip
    rec = Recording("r", alerts, 0, 300 * 60 * NS, {"XAG": "metal", "BTC": "crypto"})
    label = Label("xag", "XAG", 95 * 60 * NS, 101 * 60 * NS, 120 * 60 * NS)

    report = score([rec], [label], {}, Rules())

    assert [(i.scope, i.start_ns // (60 * NS), i.label) for i in report.incidents] == [
        ("BTC", 91, None), ("XAG", 100, "xag"), ("metal", 102, "xag"), ("XAG", 200, None),
    ]  # fmt: skip
    [result] = report.labels
    assert result.delay_s == 300
    assert result.lead_s == 60
    assert report.false_alarms == 2
    assert report.precision == 0.5
    assert report.recall == 1.0


def test_class_match_lets_a_class_alert_detect_an_asset_label():
    rec = Recording("r", [alert("metal", "firing", 90)], 0, 300 * 60 * NS, {"XAG": "metal"})
    asset_only = Label("xag", "XAG", 95 * 60 * NS, 101 * 60 * NS, 120 * 60 * NS)
    by_class = Label("xag", "XAG", 95 * 60 * NS, 101 * 60 * NS, 120 * 60 * NS, match="class")

    assert score([rec], [asset_only], {}).recall == 0.0
    report = score([rec], [by_class], {})
    assert report.recall == 1.0
    assert report.labels[0].delay_s == -300  # within the 10 min grace before onset
    assert report.time_in_alert == pytest.approx(210 / 300)  # still firing at the end


def test_bad_labels_exit_2_naming_the_line(capsys, burst_file):
    assert run(parse("--labels", str(LABELS / "bad.csv"), str(burst_file)), SETTINGS) == 2

    assert capsys.readouterr().err == "liqmon: %s:3: need onset ≤ peak ≤ end\n" % (
        LABELS / "bad.csv"
    )


def test_missing_replay_and_unknown_kind_exit_2(capsys, tmp_path, burst_file):
    labels = str(LABELS / "burst.csv")

    assert run(parse("--labels", labels, str(tmp_path / "nope.jsonl")), SETTINGS) == 2
    assert run(parse("--labels", labels, str(burst_file), "--kinds", "boom"), SETTINGS) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "liqmon: %s: no such file" % (tmp_path / "nope.jsonl")
    assert err[1].startswith("liqmon: --kinds: unknown boom")


def test_labels_from_several_files_pool_and_bind_to_their_recording(tmp_path, burst_file):
    times = "BTC,2026-01-01T01:30:00Z,2026-01-01T01:35:00Z,2026-01-01T01:40:00Z,asset"
    more = tmp_path / "more.csv"
    more.write_text(
        "name,scope,onset,peak,end,match,recording\n"
        "again,%s,%s\nelsewhere,%s,other.jsonl\n" % (times, burst_file.name, times)
    )
    out = tmp_path / "report.json"

    code = run(parse("--labels", str(LABELS / "burst.csv"), "--labels", str(more),
                     str(burst_file), "--json-out", str(out)), SETTINGS)  # fmt: skip

    assert code == 0
    report = json.loads(out.read_text())
    covered = {lab["name"]: lab["covered"] for lab in report["labels"]}
    assert covered == {"btc-burst": True, "again": True, "elsewhere": False}
    assert report["recall"] == 1.0
