"""Calibration report: were the labelled crashes caught before their low, and how many false alarms?

Built on `monitor.evaluation.scoring.score` (same firing intervals, incidents and label
matching) plus the price each replay carried (`monitor.evaluation.moves`):

- A labelled crash is *caught* when a firing alert detects it (`scoring`) at or before
  its ``peak``, which for crash labels is the minute of the low. Lead = low − firing.
- Its *size* is the fall over [onset, end] (`moves.fall`, lookback L minutes).
- Every firing incident on an asset that matches no label is an *alert outside the
  labels*. It is *false* when the asset's fall over the incident (its highs of the L
  minutes before it included) is smaller than the smallest labelled crash's size: the
  asset never moved as far as the smallest real crash during the alert.
- Per replay and asset: false alarms per asset-week (false ÷ span in weeks) and the most
  false alarms that started within any 7 days; the report passes when every crash was
  caught and that most is ≤ 1 (`Calibration.passed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TextIO

from monitor.evaluation.labels import Label, iso
from monitor.evaluation.moves import fall
from monitor.evaluation.scoring import MARKET, Incident, Recording, Rules, score
from monitor.events import ASSET_CLASSES, NS, AssetClass

WEEK_NS: Final = 7 * 86_400 * NS


@dataclass(frozen=True, slots=True)
class CrashRow:
    """One labelled crash; times epoch ns, `size` a fraction (0.05 = 5 %)."""

    label: Label
    size: float | None
    fired_ns: int | None
    caught: bool  # fired at or before the low
    lead_s: float | None  # low − firing, seconds


@dataclass(frozen=True, slots=True)
class OutsideAlert:
    """A firing incident that matches no label, with how far its asset fell."""

    incident: Incident
    fall: float | None
    false: bool


@dataclass(frozen=True, slots=True)
class AssetRow:
    """One replay's results for one asset."""

    recording: str
    asset: str
    weeks: float
    crashes: list[CrashRow]
    outside: list[OutsideAlert]

    @property
    def false_alarms(self) -> int:
        """Return the number of false alarms."""
        return sum(1 for o in self.outside if o.false)

    @property
    def false_per_week(self) -> float | None:
        """Return false alarms per asset-week (None for an empty span)."""
        return self.false_alarms / self.weeks if self.weeks > 0 else None

    @property
    def worst_week(self) -> int:
        """Return the most false alarms that started within any 7 days."""
        starts = sorted(o.incident.start_ns for o in self.outside if o.false)
        best, lo = 0, 0
        for hi, start in enumerate(starts):
            while start - starts[lo] >= WEEK_NS:
                lo += 1
            best = max(best, hi - lo + 1)
        return best


@dataclass(frozen=True, slots=True)
class Calibration:
    """The whole report; `smallest` is the smallest labelled crash's size."""

    rows: list[AssetRow]
    smallest: float | None
    smallest_label: str | None
    lookback_min: int
    max_false_per_week: float

    @property
    def passed(self) -> bool:
        """Return True when every crash was caught and no row's 7 days hold too many false alarms.

        "Too many" is more than `max_false_per_week`. The rate per asset-week is reported,
        not judged: a span a little short of a week turns one false alarm into > 1/week.
        """
        return all(
            all(c.caught for c in row.crashes) and row.worst_week <= self.max_false_per_week
            for row in self.rows
        )


def calibrate(
    recordings: Sequence[Recording],
    labels: Sequence[Label],
    classes: Mapping[str, AssetClass],
    rules: Rules | None = None,
    *,
    lookback_min: int = 60,
    max_false_per_week: float = 1.0,
) -> Calibration:
    """Score `recordings` against crash `labels` and measure every alert's fall.

    Args:
        recordings: replays with their prices (`Recording.prices`).
        labels: crash labels (peak = the minute of the low).
        classes: asset → class for scopes not seen in any recording.
        rules: matching parameters (`scoring.Rules`).
        lookback_min: L of `moves.fall`, minutes.
        max_false_per_week: the pass mark of `Calibration.passed`.
    """
    report = score(recordings, labels, classes, rules)
    by_name = {rec.name: rec for rec in recordings}
    crashes: dict[tuple[str, str], list[CrashRow]] = {}
    for result in report.labels:
        lab = result.label
        rec = _covering(lab, recordings)
        if rec is None:
            continue
        prices = rec.prices.get(lab.scope)
        size = fall(prices, lab.onset_ns, lab.end_ns, lookback_min) if prices else None
        fired = result.fired_ns
        caught = fired is not None and fired <= lab.peak_ns
        lead = (lab.peak_ns - fired) / NS if fired is not None else None
        row = CrashRow(lab, size, fired, caught, lead)
        crashes.setdefault((rec.name, lab.scope), []).append(row)
    sizes = [(c.size, c.label.name) for rows in crashes.values() for c in rows if c.size]
    smallest, smallest_label = min(sizes) if sizes else (None, None)
    outside: dict[tuple[str, str], list[OutsideAlert]] = {}
    for inc in report.incidents:
        if inc.label is not None or inc.scope == MARKET or inc.scope in ASSET_CLASSES:
            continue
        prices = by_name[inc.recording].prices.get(inc.scope)
        moved = fall(prices, inc.start_ns, inc.end_ns, lookback_min) if prices else None
        false = smallest is not None and (moved is None or moved < smallest)
        outside.setdefault((inc.recording, inc.scope), []).append(OutsideAlert(inc, moved, false))
    rows = [
        AssetRow(
            rec.name,
            asset,
            rec.span_ns / WEEK_NS,
            crashes.get((rec.name, asset), []),
            outside.get((rec.name, asset), []),
        )
        for rec in recordings
        for asset in sorted(rec.classes)
    ]
    return Calibration(rows, smallest, smallest_label, lookback_min, max_false_per_week)


def _covering(lab: Label, recordings: Sequence[Recording]) -> Recording | None:
    for rec in recordings:
        applies = lab.recording is None or lab.recording == rec.name
        if applies and rec.first_ns <= lab.onset_ns and lab.end_ns <= rec.last_ns:
            return rec
    return None


# ---- Markdown ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else "%.2f %%" % (100 * value)


def _hm(ts_ns: int) -> str:
    return iso(ts_ns)[5:16].replace("T", " ")


def _lead(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    return "%s%d min %02d s" % (sign, abs(seconds) // 60, abs(seconds) % 60)


def write_markdown(cal: Calibration, out: TextIO) -> None:
    """Write the calibration tables as GitHub Markdown (times UTC, ``MM-DD HH:MM``)."""
    out.write(
        "| file | asset | crashes caught before the low | alerts outside labels "
        "| false | false / asset-week (most in 7 days) |\n"
        "|---|---|---|---|---|---|\n"
    )
    for row in cal.rows:
        caught = sum(1 for c in row.crashes if c.caught)
        out.write(
            "| %s | %s | %d of %d | %d | %d | %s (%d) |\n"
            % (row.recording, row.asset, caught, len(row.crashes), len(row.outside),
               row.false_alarms, "-" if row.false_per_week is None
               else "%.2f" % row.false_per_week, row.worst_week)
        )  # fmt: skip
    out.write(
        "\n| crash | size | firing (UTC) | low (UTC) | lead before the low |\n"
        "|---|---|---|---|---|\n"
    )
    for row in cal.rows:
        for c in row.crashes:
            fired = _hm(c.fired_ns) if c.fired_ns is not None else "not caught"
            lead = _lead(c.lead_s) if c.caught else "**after the low**" if c.fired_ns else "-"
            out.write(
                "| %s | %s | %s | %s | %s |\n"
                % (c.label.name, _pct(c.size), fired, _hm(c.label.peak_ns), lead)
            )
    outside = [(row, o) for row in cal.rows for o in row.outside]
    if outside:
        out.write(
            "\n| file | asset | alert outside labels (UTC) | fall | false |\n"
            "|---|---|---|---|---|\n"
        )
        for row, o in outside:
            out.write(
                "| %s | %s | %s → %s | %s | %s |\n"
                % (row.recording, row.asset, _hm(o.incident.start_ns), _hm(o.incident.end_ns),
                   _pct(o.fall), "yes" if o.false else "no")
            )  # fmt: skip
    out.write(
        "\nFall: the deepest drop from the highest price of the preceding %d minutes to a low "
        "inside the interval. An alert outside the labels is false when its fall is below the "
        "smallest labelled crash (%s, %s). Verdict: %s.\n"
        % (cal.lookback_min, _pct(cal.smallest), cal.smallest_label or "-",
           "pass" if cal.passed else "FAIL")
    )  # fmt: skip
