"""`liqmon simulate`: determinism, schema, and the calibration facts of each scenario."""

from __future__ import annotations

import argparse
import collections
import gzip
from pathlib import Path

import pytest

from monitor import config
from monitor.codec import decode
from monitor.evaluation.labels import read_labels
from monitor.events import Liquidation, MarginChange, Tick, event_time_ns
from monitor.simulate import add_parser, run

SETTINGS = config.load(None, env={})
NS = 1_000_000_000
SHORT = {  # scenario → arguments that keep a test run small
    "calm": ["--duration-h", "0.25"],
    "hawkes": ["--duration-h", "3", "--tick-s", "10", "--cascades", "2"],
    "feb-2026": ["--duration-h", "14", "--tick-s", "30"],
}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="liqmon")
    add_parser(parser.add_subparsers(dest="command"), argparse.ArgumentParser(add_help=False))
    return parser.parse_args(["simulate", *argv])


def simulate(tmp_path: Path, name: str, *argv: str) -> Path:
    out = tmp_path / name
    assert run(parse("--out", str(out), *argv), SETTINGS) == 0
    return out


def events(path: Path) -> list:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        return [decode(line) for line in stream]


@pytest.mark.parametrize("scenario", sorted(SHORT))
def test_same_arguments_give_identical_bytes(tmp_path, scenario):
    argv = ["--scenario", scenario, "--seed", "7", *SHORT[scenario]]
    a = simulate(tmp_path, "a.jsonl", *argv, "--labels-out", str(tmp_path / "a.csv"))
    b = simulate(tmp_path, "b.jsonl", *argv, "--labels-out", str(tmp_path / "b.csv"))
    c = simulate(tmp_path, "c.jsonl", "--scenario", scenario, "--seed", "8", *SHORT[scenario])

    assert a.read_bytes() == b.read_bytes()
    labels_a = (tmp_path / "a.csv").read_text()
    assert labels_a.replace(",a.jsonl\n", ",b.jsonl\n") == (tmp_path / "b.csv").read_text()
    assert a.read_bytes() != c.read_bytes()  # the seed matters


def test_gzip_output_is_deterministic_too(tmp_path):
    argv = ["--scenario", "calm", "--seed", "1", "--duration-h", "0.1"]
    a = simulate(tmp_path, "a.jsonl.gz", *argv)
    b = simulate(tmp_path, "b.jsonl.gz", *argv)

    assert a.read_bytes() == b.read_bytes()
    assert events(a) == events(tmp_path.joinpath("a.jsonl.gz"))


@pytest.mark.parametrize("scenario", sorted(SHORT))
def test_every_line_is_a_contract_event_in_time_order(tmp_path, scenario):
    path = simulate(tmp_path, "x.jsonl", "--scenario", scenario, *SHORT[scenario])

    decoded = events(path)  # decode raises on any invalid line
    times = [event_time_ns(e) for e in decoded]
    assert times == sorted(times)
    kinds = collections.Counter(type(e).__name__ for e in decoded)
    assert kinds["Tick"] > 0
    assert kinds["Liquidation"] > 0
    assert len({e.event_id for e in decoded if isinstance(e, Liquidation)}) == kinds["Liquidation"]


def test_calm_covers_crypto_metals_and_equity_perps_with_book_and_classes(tmp_path):
    decoded = events(simulate(tmp_path, "calm.jsonl", "--scenario", "calm", "--duration-h", "0.25"))
    ticks = [e for e in decoded if isinstance(e, Tick)]
    classes = {e.asset: e.asset_class for e in ticks}

    assert classes["XAU"] == classes["XAG"] == "metal"
    assert classes["NVDA"] == classes["TSLA"] == "equity"
    assert classes["BTC"] == classes["ETH"] == "crypto"
    assert len({e.exchange for e in ticks if e.asset == "BTC"}) == 3
    btc = [e for e in ticks if e.symbol == "BTC-USDT-PERP" and e.exchange == "bybit"]
    assert all(e.bid is not None and e.ask is not None and e.bid < e.ask for e in btc)
    seconds = [e.ts_event_ns // NS for e in btc]
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # every second
    usd_per_h = sum(e.notional_usd for e in decoded if isinstance(e, Liquidation)) * 4
    assert 0.2e6 < usd_per_h < 5e6  # calm: around a million dollars an hour, all assets


def test_hawkes_cascades_are_one_sided_with_falling_prices_and_labels(tmp_path):
    labels_path = tmp_path / "labels.csv"
    path = simulate(
        tmp_path, "h.jsonl", "--scenario", "hawkes", "--seed", "3", "--duration-h", "6",
        "--tick-s", "10", "--cascades", "2", "--assets", "BTC", "--branching", "0.7",
        "--labels-out", str(labels_path),
    )  # fmt: skip
    decoded = events(path)
    labels = read_labels(labels_path)

    assert [lab.scope for lab in labels] == ["BTC", "BTC"]
    for lab in labels:
        assert lab.onset_ns <= lab.peak_ns <= lab.end_ns
        inside = [
            e for e in decoded
            if isinstance(e, Liquidation) and e.asset == "BTC"
            and lab.onset_ns <= e.ts_event_ns <= lab.end_ns
        ]  # fmt: skip
        usd = sum(e.notional_usd for e in inside)
        longs = sum(e.notional_usd for e in inside if e.position_side == "long")
        assert usd > 5e6
        assert 0.75 < longs / usd < 0.97
        px = [e.price for e in decoded if isinstance(e, Tick) and e.venue_symbol == "BTCUSDT"
              and lab.onset_ns <= e.ts_event_ns <= lab.end_ns]  # fmt: skip
        assert px[-1] < px[0]


def test_feb_2026_full_scenario_facts(tmp_path):
    """Full 30 h (ticks every 60 s to stay small): the issue's order and calibration."""
    labels_path = tmp_path / "labels.csv"
    decoded = events(
        simulate(
            tmp_path,
            "feb.jsonl",
            "--scenario",
            "feb-2026",
            "--tick-s",
            "60",
            "--labels-out",
            str(labels_path),
        )
    )
    margins = [e for e in decoded if isinstance(e, MarginChange)]
    liqs = [e for e in decoded if isinstance(e, Liquidation)]
    minute_usd: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for e in liqs:
        minute_usd[e.asset][e.ts_event_ns // (60 * NS)] += e.notional_usd
    peak = {a: c.most_common(1)[0][0] * 60 * NS for a, c in minute_usd.items()}

    assert {(m.product, m.asset, m.old, m.new) for m in margins} == {
        ("GC", "XAU", 8.0, 9.0), ("SI", "XAG", 15.0, 18.0),
    }  # fmt: skip
    assert {round(m.tightening, 3) for m in margins} == {0.111, 0.167}
    assert all(m.basis == "pct_notional" and m.venue == "cme" for m in margins)
    notice = max(m.notice_ts_ns for m in margins)
    assert all(m.effective_ts_ns > notice for m in margins)
    assert notice < peak["XAG"] < peak["BTC"]
    assert all(peak["BTC"] < peak[a] for a in ("NVDA", "TSLA", "MSTR"))
    btc = [e for e in liqs if e.asset == "BTC"]
    btc_usd = sum(e.notional_usd for e in btc)
    assert abs(btc_usd / 2.07e9 - 1) < 0.15
    long_share = sum(e.notional_usd for e in btc if e.position_side == "long") / btc_usd
    assert 0.82 <= long_share <= 0.88
    low = {  # the last bybit price at or before 22:30Z Feb 5
        e.asset: e.price for e in decoded
        if isinstance(e, Tick) and e.exchange == "bybit" and e.ts_event_ns < 1770330660 * NS
    }  # fmt: skip
    start = {}
    for e in decoded:
        if isinstance(e, Tick) and e.exchange == "bybit":
            start.setdefault(e.asset, e.price)
    assert low["BTC"] / start["BTC"] - 1 == pytest.approx(-0.128, abs=0.01)
    assert low["XRP"] / start["XRP"] - 1 == pytest.approx(-0.22, abs=0.015)
    assert low["XAG"] / start["XAG"] - 1 == pytest.approx(-0.19, abs=0.015)
    labels = {lab.name: lab for lab in read_labels(labels_path)}
    assert labels["feb-XAG"].onset_ns > notice
    assert labels["feb-XAG"].onset_ns < labels["feb-BTC-wave-1"].onset_ns
    assert labels["feb-BTC-main"].peak_ns < labels["feb-NVDA"].peak_ns
    assert len(decoded) < 400_000


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    out = str(tmp_path / "x.jsonl")

    assert run(parse("--scenario", "calm", "--out", out, "--start", "yesterday"), SETTINGS) == 2
    assert run(parse("--scenario", "hawkes", "--out", out, "--assets", "DOGE"), SETTINGS) == 2
    assert run(parse("--scenario", "hawkes", "--out", out, "--branching", "1.2"), SETTINGS) == 2
    missing = str(tmp_path / "no-dir" / "x.jsonl")
    assert run(parse("--scenario", "calm", "--out", missing, "--duration-h", "0.01"), SETTINGS) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "liqmon: --start: not an ISO-8601 time: 'yesterday'"
    assert "unknown asset DOGE" in err[1]
    assert "branching ratio must be in [0, 1)" in err[2]
    assert err[3].startswith("liqmon: --out %s: cannot write" % missing)


def test_start_shifts_everything(tmp_path):
    a = events(simulate(tmp_path, "a.jsonl", "--scenario", "calm", "--duration-h", "0.05"))
    b = events(
        simulate(
            tmp_path,
            "b.jsonl",
            "--scenario",
            "calm",
            "--duration-h",
            "0.05",
            "--start",
            "2026-01-05T01:00:00Z",
        )
    )

    assert event_time_ns(b[0]) - event_time_ns(a[0]) == 3600 * NS
    assert [getattr(e, "price", None) for e in a] == [getattr(e, "price", None) for e in b]
