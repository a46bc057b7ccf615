"""``python -m monitor.evaluation.tapes_command``: burst alerts on real liquidation data.

Two inputs, one table (`monitor.evaluation.tapes`: quiet incidents per asset-day, share of
the busiest 1 % of hours that alert):

- ``TAPE...``: per-liquidation recordings in any ``liqmon replay`` format (Tardis
  liquidations CSV, contract events, raw tapes). Each is replayed through the whole
  pipeline in process, as ``liqmon evaluate`` does, with the settings of ``--config``.
- ``--hourly FILE --asset A``: an hourly series (CSV with ``timestamp`` in epoch ms and a
  USD column, ``--usd-column``, default ``totalUsd``, as the CoinGlass exports). No
  per-minute data, so the burst rule's thresholds are applied at hour scale with the
  same classes: the hour-of-week baseline (`SeasonalBaseline`, one period an hour) and
  the budget tail (`TailEstimator`), against the old fixed ``z_warning``. ``--split ISO``
  learns before the split and scores after.

Prints the Markdown table to stdout; exit 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from monitor import config
from monitor.aggregate.detect.burst_tail import TailEstimator, budget_rate
from monitor.aggregate.detect.seasonal import SeasonalBaseline, hour_of_week
from monitor.config import BurstSettings, Settings
from monitor.errors import InputError
from monitor.evaluation.command import replay_recording
from monitor.evaluation.tapes import HOUR_S, AssetScore, Incident, hour_usd, incidents, table
from monitor.evaluation.tapes import score_asset as score
from monitor.events import Liquidation
from monitor.replay.source import open_stream

HOURS_PER_DAY = 24


def score_tape(settings: Settings, path: Path) -> list[AssetScore]:
    """Replay one tape and return its per-asset scores (assets with liquidations)."""
    rows = [
        (e.asset, e.ts_event_ns / 1e9, e.notional_usd)
        for e in open_stream(path, "auto", symbol=None, classes=settings.assets.classes)
        if isinstance(e, Liquidation)
    ]
    hours = hour_usd(rows)
    rec = replay_recording(settings, path)
    found = incidents(rec.alerts, rec.last_ns / 1e9)
    return [score(asset, hours[asset], found) for asset in sorted(hours)]


def read_hourly(path: Path, column: str = "totalUsd") -> list[tuple[int, float]]:
    """Return (epoch hour, USD) rows of an hourly CSV (``timestamp`` ms, USD `column`).

    Raises:
        InputError: missing columns or a value that is not a number (file and line).
    """
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                out.append((int(row["timestamp"]) // 1000 // HOUR_S, float(row[column])))
            except (KeyError, TypeError, ValueError) as exc:
                msg = "%s:%d: needs timestamp (ms) and %s: %s" % (path, n, column, exc)
                raise InputError(msg) from exc
    return sorted(out)


def hourly_incidents(
    series: Sequence[tuple[int, float]], asset: str, cfg: BurstSettings, *, budget: bool
) -> list[Incident]:
    """Return the incidents of the burst thresholds applied to hourly USD.

    Periods are hours: the baseline's half-life is a day, a bucket's four of its weeks;
    ``ref_usd`` is scaled to an hour. Hot when z ≥ ``z_warning`` (``budget`` False) or
    z ≥ the budget's z of the tail learned so far (True); hot hours with at most one cold
    hour between them are one incident; the baseline is frozen while hot, the tail not.
    """
    base = SeasonalBaseline(24.0, 4.0, 2.0, cfg.ref_usd * 60.0, cfg.min_sd)
    days = float(HOURS_PER_DAY)
    tail = TailEstimator(
        cfg.tail_u,
        cfg.tail_half_life_days * days,
        cfg.tail_prior_p_u,
        cfg.tail_prior_sigma,
        cfg.tail_prior_days * days,
    )
    rate = budget_rate(cfg.budget_alerts, cfg.budget_days * days / 1440.0)
    ids = np.zeros(1, dtype=np.int64)
    out: list[Incident] = []
    for hour, usd in series:
        how = hour_of_week(hour * 60)
        value = np.array([usd])
        z = base.z(ids, value, how)
        bar = tail.threshold(ids, rate)[0] if budget else cfg.z_warning
        held = bool(out) and hour * HOUR_S - out[-1].end_s <= HOUR_S
        hot = bool(z[0] >= (cfg.tail_u if held else bar))
        tail.update(z, np.ones(1, dtype=bool))
        base.update(value, how, np.array([hot]))
        if not hot:
            continue
        start, end = hour * HOUR_S, (hour + 1) * HOUR_S
        if out and start - out[-1].end_s <= HOUR_S:
            out[-1] = Incident(asset, out[-1].start_s, end)
        else:
            out.append(Incident(asset, start, end))
    return out


def score_hourly(
    series: Sequence[tuple[int, float]], asset: str, cfg: BurstSettings, split_hour: int
) -> tuple[AssetScore, AssetScore]:
    """Return the (fixed z, budget) scores of the hours from `split_hour` on."""
    held = {h: usd for h, usd in series if h >= split_hour}
    scores = []
    for budget in (False, True):
        found = [
            i
            for i in hourly_incidents(series, asset, cfg, budget=budget)
            if i.start_s >= split_hour * HOUR_S
        ]
        scores.append(score(asset, held, found))
    return scores[0], scores[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status."""
    p = argparse.ArgumentParser(prog="python -m monitor.evaluation.tapes_command")
    p.add_argument("tapes", nargs="*", type=Path, metavar="TAPE")
    p.add_argument("--config", type=Path, help="YAML or TOML config (default: built-in)")
    p.add_argument("--hourly", type=Path, help="hourly CSV (timestamp ms, totalUsd)")
    p.add_argument("--asset", default="BTC", help="asset of --hourly (default BTC)")
    p.add_argument("--usd-column", default="totalUsd", help="USD column of --hourly")
    p.add_argument("--split", help="ISO time: --hourly learns before it, scores after")
    args = p.parse_args(argv)
    settings = config.load(args.config, env={})
    try:
        if args.hourly is not None:
            series = read_hourly(args.hourly, args.usd_column)
            split = series[0][0] if not args.split else _hour(args.split)
            before, after = score_hourly(series, args.asset, settings.detect.burst, split)
            print("fixed z ≥ %.1f (hour scale)\n" % settings.detect.burst.z_warning)
            print(table([before]))
            b = settings.detect.burst
            print("\nbudget %g per %g days (hour scale)\n" % (b.budget_alerts, b.budget_days))
            print(table([after]))
        scores = [s for path in args.tapes for s in score_tape(settings, path)]
        if scores:
            print(table(scores))
    except InputError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    return 0


def _hour(iso: str) -> int:
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) // HOUR_S


if __name__ == "__main__":
    sys.exit(main())
