"""Score the deleveraging rule on open-interest history against labelled unwinds.

``python -m monitor.evaluation.deleveraging --labels FILE OI_FILE...`` reads open-interest
history (`monitor.io.open_interest`: the Binance ``metrics`` archive or ``t,oi,oi_usd``),
runs `monitor.aggregate.detect.deleveraging.DeleveragingDetector` over it in event time, merges
signals into incidents (one incident until `quiet_min` minutes pass without a signal), and
prints, per asset: labelled unwinds caught before their OI low (a label's ``peak``) with
the lead, incidents outside every label (false alarms), their rate per asset-month and
their count per calendar month. ``--set KEY=VALUE`` (repeatable) overrides one
``detect.deleveraging`` setting, e.g. ``--set score=oi`` for the OI-only score or
``--set windows_s=[3600,14400]`` for a 4-hour window beside the hour.
"""

from __future__ import annotations

import argparse
import heapq
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

import msgspec
import yaml

from monitor.aggregate.detect.deleveraging import Deleveraging, DeleveragingDetector
from monitor.config.signals import DeleveragingSettings
from monitor.errors import InputError
from monitor.evaluation.labels import Label, iso, read_labels
from monitor.events import NS, Tick, event_time_ns
from monitor.io.open_interest import read_open_interest

MONTH_NS: Final = int(30.44 * 86_400 * NS)
MARKET: Final = "market"  # every instrument's OI together (USD-weighted)


@dataclass(slots=True)
class Incident:
    """Consecutive signals of one scope, no more than the quiet gap apart."""

    scope: str
    first: Deleveraging
    last_ns: int
    strongest: Deleveraging


@dataclass(slots=True)
class AssetResult:
    """What the rule did on one asset's history."""

    asset: str
    span_ns: int = 0
    caught: list[tuple[Label, Incident | None]] = field(default_factory=list)
    false_alarms: list[Incident] = field(default_factory=list)

    def false_per_month(self) -> float:
        """Return false alarms per 30.44 days of history."""
        return len(self.false_alarms) / (self.span_ns / MONTH_NS) if self.span_ns else 0.0


def incidents(
    ticks: Iterable[Tick], detector: DeleveragingDetector, quiet_min: float = 60.0
) -> tuple[list[Incident], dict[str, tuple[int, int]]]:
    """Run the detector over time-ordered ticks; return its incidents and each asset's span."""
    out: list[Incident] = []
    open_by_scope: dict[str, Incident] = {}
    spans: dict[str, tuple[int, int]] = {}
    step_ns = detector.cfg.step_s * NS
    pending_step = -1
    for tick in ticks:
        step = tick.ts_event_ns // step_ns
        if pending_step >= 0 and step != pending_step:
            _fold(detector.evaluate(pending_step * step_ns), open_by_scope, out, quiet_min)
        pending_step = step
        if tick.open_interest_usd is not None:
            for scope in (tick.asset, MARKET):
                detector.observe(
                    scope, tick.symbol, tick.ts_event_ns, tick.open_interest_usd, tick.price
                )
        for scope in (tick.asset, MARKET):
            first, last = spans.get(scope, (tick.ts_event_ns, 0))
            spans[scope] = (first, max(last, tick.ts_event_ns))
    if pending_step >= 0:
        _fold(detector.evaluate(pending_step * step_ns), open_by_scope, out, quiet_min)
    return out, spans


def _fold(
    signals: Sequence[Deleveraging],
    open_by_scope: dict[str, Incident],
    out: list[Incident],
    quiet_min: float,
) -> None:
    for sig in signals:
        current = open_by_scope.get(sig.scope)
        if current is not None and sig.ts_ns - current.last_ns <= quiet_min * 60 * NS:
            current.last_ns = sig.ts_ns
            if sig.drop_pct > current.strongest.drop_pct:
                current.strongest = sig
            continue
        incident = Incident(sig.scope, sig, sig.ts_ns, sig)
        open_by_scope[sig.scope] = incident
        out.append(incident)


def score(
    found: Sequence[Incident],
    spans: dict[str, tuple[int, int]],
    labels: Sequence[Label],
    grace_min: float = 180.0,
) -> list[AssetResult]:
    """Match incidents to labels of the same asset; the rest are false alarms."""
    grace = int(grace_min * 60 * NS)
    results = []
    for asset in sorted(spans):
        start, end = spans[asset]
        res = AssetResult(asset, span_ns=end - start)
        mine = [i for i in found if i.scope == asset]
        own = [lab for lab in labels if lab.scope == asset and start <= lab.peak_ns <= end]
        for lab in own:
            usable = mine + [i for i in found if i.scope == MARKET and lab.match == "market"]
            hit = next(
                (i for i in usable if lab.onset_ns - grace <= i.first.ts_ns <= lab.peak_ns), None
            )
            res.caught.append((lab, hit))
        explains = labels if asset == MARKET else own  # any unwind explains a market one
        res.false_alarms = [
            i
            for i in mine
            if not any(
                lab.onset_ns - grace <= i.last_ns and i.first.ts_ns <= lab.end_ns
                for lab in explains
            )
        ]
        results.append(res)
    return results


def write_report(results: Sequence[AssetResult], out: TextIO) -> None:
    """Write the per-asset tables as Markdown."""
    out.write(
        "| asset | months | labelled unwinds | caught before the OI low | lead"
        " | false alarms | per asset-month |\n"
    )
    out.write("|---|---:|---:|---:|---|---:|---:|\n")
    for res in results:
        leads = ", ".join(
            "%s: %.0f min (%d-min window)%s"
            % (
                lab.name,
                (lab.peak_ns - hit.first.ts_ns) / 60 / NS,
                hit.first.window_s // 60,
                " (market)" if hit.scope == MARKET else "",
            )
            for lab, hit in res.caught
            if hit is not None
        )
        out.write(
            "| %s | %.1f | %d | %d | %s | %d | %.2f |\n"
            % (
                res.asset,
                res.span_ns / MONTH_NS,
                len(res.caught),
                sum(1 for _, hit in res.caught if hit is not None),
                leads or "–",
                len(res.false_alarms),
                res.false_per_month(),
            )
        )
    _write_months(results, out)
    for res in results:
        for inc in res.false_alarms:
            s = inc.strongest
            out.write(
                "- %s false alarm %s: %d-min window, OI −%.2f%%, price %+.2f%% (range %.2f%%),"
                " score %.2f%% (threshold %.2f%%)\n"
                % (
                    res.asset,
                    iso(inc.first.ts_ns),
                    s.window_s // 60,
                    s.drop_pct,
                    s.price_move_pct,
                    s.price_range_pct,
                    s.score_pct,
                    s.threshold_pct,
                )
            )


def _write_months(results: Sequence[AssetResult], out: TextIO) -> None:
    """Write false alarms per asset and calendar month (of each incident's first signal)."""
    months = sorted({iso(i.first.ts_ns)[:7] for r in results for i in r.false_alarms})
    if not months:
        return
    out.write("\nfalse alarms by month\n\n| asset | %s |\n" % " | ".join(months))
    out.write("|---|%s\n" % ("---:|" * len(months)))
    for res in results:
        counts = [sum(1 for i in res.false_alarms if iso(i.first.ts_ns)[:7] == m) for m in months]
        out.write("| %s | %s |\n" % (res.asset, " | ".join(str(c) for c in counts)))
    out.write("\n")


def settings_from(pairs: Sequence[str]) -> DeleveragingSettings:
    """Return the default settings with ``KEY=VALUE`` overrides (values as YAML scalars).

    Raises:
        InputError: a pair without ``=``, an unknown key or a value out of range.
    """
    raw: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError("--set %s: expected KEY=VALUE" % pair)
        raw[key.strip()] = yaml.safe_load(value)
    try:
        return msgspec.convert(raw, DeleveragingSettings)
    except msgspec.ValidationError as exc:
        raise InputError("--set: %s" % exc) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; exit 0, or 2 on bad input (one line on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m monitor.evaluation.deleveraging")
    parser.add_argument("files", nargs="+", type=Path, metavar="OI_FILE")
    parser.add_argument("--labels", type=Path, required=True, metavar="FILE")
    parser.add_argument("--symbol", help="venue symbol when the file name does not say")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
        help="override one detect.deleveraging setting (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args.overrides)
        labels = read_labels(args.labels)
        streams = [read_open_interest(p, venue_symbol=args.symbol, classes={}) for p in args.files]
        ticks = heapq.merge(*streams, key=event_time_ns)
        found, spans = incidents(ticks, DeleveragingDetector(settings))
    except InputError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    write_report(score(found, spans, labels), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
