"""``liqmon evaluate``: replay recordings through the pipeline and score them against labels.

``liqmon evaluate --labels FILE REPLAY... [--format auto|events|raw|binance-klines]
[--symbol S] [--json-out FILE] [--kinds K,K] [--grace-min M] [--cooldown-min M]
[--markdown FILE] [--lookback-min L] [--warmup-days D] [--warmup FILE...]``

Each REPLAY is replayed on its own, in process, through `monitor.runtime.embedded.run_app`
exactly as ``liqmon replay`` does (simulated clock, event time only), and its alert transitions are
scored together (`monitor.evaluation.scoring`). Prints one row per label and the overall
numbers; ``--json-out`` writes the same as JSON. ``--markdown FILE`` (``-`` for stdout)
also writes the crash-calibration tables (`monitor.evaluation.calibration`: crashes caught
before their low, alerts outside the labels and which are false, false alarms per
asset-week). ``--warmup-days D`` first warms each kline recording up with the D days of
klines before it that the recordings and ``--warmup`` files hold
(`monitor.evaluation.warmups`), as a daemon's warm start would. Progress goes to stderr,
one line per replay. Exit 0 ok, 2 bad labels, replay input or arguments, 1 a runtime
failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec

from monitor.bus.base import Publish
from monitor.clock import SimClock
from monitor.config import Settings
from monitor.errors import ConfigError, InputError, MonitorError
from monitor.evaluation.calibration import Calibration, calibrate, write_markdown
from monitor.evaluation.labels import iso, read_labels
from monitor.evaluation.moves import PriceBook
from monitor.evaluation.scoring import Recording, Report, Rules, score
from monitor.evaluation.warmups import KlineLibrary
from monitor.events import ALERT_KINDS, AssetClass, Event, Liquidation, Tick, event_time_ns
from monitor.io.files import check_readable
from monitor.replay.source import FORMATS, Format, ReplaySource
from monitor.runtime.embedded import run_app
from monitor.state.keeper import StatePlan


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to `subparsers`; return its parser."""
    p = subparsers.add_parser(
        "evaluate", parents=[common], help="replay recordings and score alerts against labels"
    )
    p.add_argument(
        "files", nargs="+", type=Path, metavar="REPLAY",
        help="recordings, as for 'liqmon replay' (required)",
    )  # fmt: skip
    p.add_argument(
        "--labels", type=Path, required=True, action="append", metavar="FILE",
        help="CSV or YAML; repeat to pool several files",
    )  # fmt: skip
    p.add_argument("--format", choices=FORMATS, default="auto", help="format of the replays")
    p.add_argument("--symbol", help="venue symbol for kline files (default: from the file name)")
    p.add_argument(
        "--json-out",
        type=Path,
        metavar="FILE",
        help="also write the report as JSON (default: none)",
    )
    p.add_argument(
        "--kinds",
        metavar="K,K",
        help="alert kinds that count, a comma list (default: all but data_gap)",
    )
    p.add_argument("--grace-min", type=float, default=10.0, metavar="M", help="before onset")
    p.add_argument("--cooldown-min", type=float, default=30.0, metavar="M", help="merge gap")
    p.add_argument(
        "--markdown",
        metavar="FILE",
        help="write the crash-calibration tables, - for stdout (default: none)",
    )
    p.add_argument(
        "--lookback-min",
        type=int,
        default=60,
        metavar="L",
        help="minutes of highs before a low that measure a fall (calibration)",
    )
    p.add_argument(
        "--warmup-days", type=float, default=0.0, metavar="D",
        help="warm each kline recording up with the D days of klines before it (default: 0)",
    )  # fmt: skip
    p.add_argument(
        "--warmup", nargs="+", action="extend", type=Path, default=[], metavar="FILE",
        help="more kline files to warm up from (with --warmup-days)",
    )  # fmt: skip
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``evaluate``; return the exit code (0 ok, 2 bad input, 1 runtime failure)."""
    try:
        rules = _rules(args)
        labels = [lab for path in args.labels for lab in read_labels(path)]
        _check_files([*args.files, *args.warmup])
        with tempfile.TemporaryDirectory(prefix="liqmon-warmup-") as tmp:
            recordings = _replay_all(args, settings, Path(tmp))
        report = score(recordings, labels, settings.assets.classes, rules)
        write_table(report, sys.stdout)
        if args.markdown is not None:
            cal = calibrate(
                recordings, labels, settings.assets.classes, rules, lookback_min=args.lookback_min
            )
            _write_markdown(cal, args.markdown)
        if args.json_out is not None:
            try:
                args.json_out.write_bytes(msgspec.json.encode(report_dict(report)) + b"\n")
            except OSError as exc:
                raise InputError(
                    "--json-out %s: cannot write: %s" % (args.json_out, exc.strerror or exc)
                ) from None
    except (InputError, ConfigError) as exc:
        sys.stderr.write("liqmon: %s\n" % exc)
        return 2
    except MonitorError as exc:
        sys.stderr.write("liqmon: %s\n" % exc)
        return 1
    return 0


def _replay_all(args: argparse.Namespace, settings: Settings, tmp: Path) -> list[Recording]:
    """Replay every recording (warmed up when ``--warmup-days``), with a progress line each."""
    library = KlineLibrary()
    if args.warmup_days > 0:  # else nothing is indexed and no recording is warmed up
        library.add([*args.files, *args.warmup])
    recordings = []
    for n, path in enumerate(args.files, 1):
        started = time.monotonic()
        warm = library.write_before(path, args.warmup_days, tmp)
        how = " (warmed up with %d min of klines)" % warm[1] if warm else ""
        sys.stderr.write("replaying %d/%d %s%s ...\n" % (n, len(args.files), path, how))
        rec = replay_recording(
            settings, path, fmt=args.format, symbol=args.symbol,
            warmup=(warm[0],) if warm else (),
        )  # fmt: skip
        sys.stderr.write(
            "replayed %s: %d alert transitions in %.1f s\n"
            % (path, len(rec.alerts), time.monotonic() - started)
        )
        recordings.append(rec)
    return recordings


def _write_markdown(cal: Calibration, target: str) -> None:
    if target == "-":
        sys.stdout.write("\n")
        write_markdown(cal, sys.stdout)
        return
    try:
        with Path(target).open("w", encoding="utf-8") as out:
            write_markdown(cal, out)
    except OSError as exc:
        raise InputError(
            "--markdown %s: cannot write: %s" % (target, exc.strerror or exc)
        ) from None


def _check_files(paths: Sequence[Path]) -> None:
    check_readable(list(paths))


def _rules(args: argparse.Namespace) -> Rules:
    kinds = frozenset(k.strip() for k in (args.kinds or "").split(",") if k.strip())
    unknown = sorted(kinds - set(ALERT_KINDS))
    if unknown:
        raise InputError(
            "--kinds: unknown %s (known: %s)" % (", ".join(unknown), ", ".join(ALERT_KINDS))
        )
    if args.grace_min < 0 or args.cooldown_min < 0 or args.lookback_min < 0:
        msg = "--grace-min, --cooldown-min and --lookback-min must be ≥ 0"
        raise InputError(msg)
    return Rules(grace_s=args.grace_min * 60.0, cooldown_s=args.cooldown_min * 60.0, kinds=kinds)


class _Observed:
    """Wraps a source; notes the first and last event time, every asset's class and prices."""

    def __init__(self, inner: ReplaySource) -> None:
        self.inner = inner
        self.first_ns: int | None = None
        self.last_ns = 0
        self.classes: dict[str, AssetClass] = {}
        self.prices = PriceBook()

    async def run(self, publish: Publish) -> None:
        """Run the inner source, observing every batch it publishes."""

        async def observe(batch: Sequence[Event]) -> int:
            for event in batch:
                ts = event_time_ns(event)
                if self.first_ns is None or ts < self.first_ns:
                    self.first_ns = ts
                self.last_ns = max(self.last_ns, ts)
                if isinstance(event, Liquidation | Tick):
                    self.classes[event.asset] = event.asset_class
                if isinstance(event, Tick):
                    self.prices.add(event)
            return await publish(batch)

        await self.inner.run(observe)


def replay_recording(
    settings: Settings,
    path: Path,
    *,
    fmt: Format = "auto",
    symbol: str | None = None,
    warmup: Sequence[Path] = (),
) -> Recording:
    """Replay one file through the pipeline (after the `warmup` klines); return its alerts.

    Raises:
        InputError: a malformed record (naming file and line) or an unreadable file.
        MonitorError: a runtime failure of the pipeline.
    """
    return asyncio.run(_replay(settings, path, fmt, symbol, warmup))


async def _replay(
    settings: Settings, path: Path, fmt: Format, symbol: str | None, warmup: Sequence[Path]
) -> Recording:
    clock = SimClock()
    source = ReplaySource(
        [path], fmt=fmt, clock=clock, symbol=symbol, classes=settings.assets.classes
    )
    observed = _Observed(source)
    async with run_app(
        settings,
        sources=[observed],
        clock=clock,
        live=False,
        serve_http=False,
        log_alerts=False,
        state_plan=StatePlan(warmup=tuple(warmup)),
    ) as app:
        await app.pipeline_done.wait()
    if app.source_errors:
        raise app.source_errors[0]
    first = observed.first_ns if observed.first_ns is not None else 0
    return Recording(
        path.name,
        list(app.alerts),
        first,
        observed.last_ns,
        observed.classes,
        observed.prices.assets,
    )


# ---- output --------------------------------------------------------------------------------


def _num(value: float | None, fmt: str = "%.0f") -> str:
    return "-" if value is None else fmt % value


def write_table(report: Report, out: TextIO) -> None:
    """Print the per-label table and the overall numbers."""
    rows = [("label", "scope", "onset (UTC)", "detected", "alert", "delay s", "lead s")]
    for r in report.labels:
        lab = r.label
        found = "yes" if r.detected else ("no" if r.covered else "not covered")
        alert = "%s %s" % (r.kind, r.scope) if r.detected else "-"
        rows.append(
            (lab.name, lab.scope, iso(lab.onset_ns), found, alert,
             _num(r.delay_s), _num(r.lead_s))
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    out.write("\n")
    covered = sum(1 for r in report.labels if r.covered)
    detected = sum(1 for r in report.labels if r.detected)
    tp = sum(1 for i in report.incidents if i.label is not None)
    lines = [
        ("event recall", "%s (%d of %d)" % (_num(report.recall, "%.3f"), detected, covered)),
        ("precision", "%s (%d of %d incidents)"
         % (_num(report.precision, "%.3f"), tp, len(report.incidents))),
        ("F1", _num(report.f1, "%.3f")),
        ("delay from onset, median / p90",
         "%s / %s s" % (_num(report.median_delay_s), _num(report.p90_delay_s))),
        ("lead before peak, median", "%s s" % _num(report.median_lead_s)),
        ("false alarms", "%d (%s per asset-day over %.2f asset-days; %s per day)"
         % (report.false_alarms, _num(report.false_alarms_per_asset_day, "%.3f"),
            report.asset_days, _num(report.false_alarms_per_day, "%.2f"))),
        ("time in alert, any / per asset", "%s / %s"
         % (_pct(report.time_in_alert), _pct(report.asset_time_in_alert))),
    ]  # fmt: skip
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        out.write("%s  %s\n" % (key.ljust(width), value))


def _pct(value: float | None) -> str:
    return "-" if value is None else "%.2f%%" % (100 * value)


def report_dict(report: Report) -> dict[str, Any]:
    """Return the report as plain JSON-able data (times as ISO-8601 UTC)."""
    return {
        "labels": [
            {
                "name": r.label.name,
                "scope": r.label.scope,
                "onset": iso(r.label.onset_ns),
                "peak": iso(r.label.peak_ns),
                "end": iso(r.label.end_ns),
                "covered": r.covered,
                "detected": r.detected,
                "fired": iso(r.fired_ns) if r.fired_ns is not None else None,
                "alert_scope": r.scope,
                "alert_kind": r.kind,
                "delay_s": r.delay_s,
                "lead_s": r.lead_s,
            }
            for r in report.labels
        ],
        "incidents": [
            {
                "recording": i.recording,
                "scope": i.scope,
                "kind": i.kind,
                "start": iso(i.start_ns),
                "end": iso(i.end_ns),
                "label": i.label,
            }
            for i in report.incidents
        ],
        "recall": report.recall,
        "precision": report.precision,
        "f1": report.f1,
        "median_delay_s": report.median_delay_s,
        "p90_delay_s": report.p90_delay_s,
        "median_lead_s": report.median_lead_s,
        "false_alarms": report.false_alarms,
        "asset_days": report.asset_days,
        "days": report.days,
        "false_alarms_per_asset_day": report.false_alarms_per_asset_day,
        "false_alarms_per_day": report.false_alarms_per_day,
        "time_in_alert": report.time_in_alert,
        "asset_time_in_alert": report.asset_time_in_alert,
    }
