"""Scoring alerts against labels: pure functions, no I/O.

- A *firing interval* of one (kind, scope) runs from a ``firing`` transition that found it
  not firing to the next ``resolved`` (or the end of the recording). Escalations inside an
  interval are not new firings.
- An *incident* is the firing intervals of one scope (any kind) merged while the next one
  starts within ``cooldown`` (30 min) of the previous one's end.
- A label is *detected* when an interval on a matching scope (see `labels.Label.match`)
  starts within [onset − grace, end] (grace 10 min). Delay = that start − onset; lead =
  peak − that start (positive: before the peak).
- An incident is a *true positive* when it starts within [onset − grace, end] of a label
  on a related scope: the label's scope, its asset class, ``market``, or (for a class
  label) any asset of that class. Every other incident is a false alarm.
- False alarms per asset-day count incidents on asset scopes over Σ (assets seen ×
  recording days); per day counts every incident over Σ recording days.
- Time in alert: the share of the recording span with any alert firing; per asset: the
  firing time of asset scopes over (assets × span).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from monitor.evaluation.labels import Label
from monitor.evaluation.moves import MinutePrices
from monitor.events import ASSET_CLASSES, NS, Alert, AssetClass

DAY_NS: Final = 86_400 * NS
MARKET: Final = "market"


@dataclass
class Recording:
    """What one replay produced.

    Attributes:
        name: the file name (matched against a label's ``recording``).
        alerts: every alert transition, in order.
        first_ns: the first event time, epoch ns.
        last_ns: the last event time, epoch ns.
        classes: asset → asset class of every asset seen in the recording.
        prices: asset → its per-minute highs and lows (for `monitor.evaluation.calibration`).
    """

    name: str
    alerts: list[Alert]
    first_ns: int
    last_ns: int
    classes: dict[str, AssetClass] = field(default_factory=dict)
    prices: dict[str, MinutePrices] = field(default_factory=dict)

    @property
    def span_ns(self) -> int:
        """Return the recording's span, ns (0 when empty)."""
        return max(self.last_ns - self.first_ns, 0)


@dataclass(frozen=True, slots=True)
class Interval:
    """One firing interval of one (kind, scope), epoch ns."""

    kind: str
    scope: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class Incident:
    """Merged firing intervals of one scope; `label` is the name it matched, or None."""

    recording: str
    scope: str
    kind: str
    start_ns: int
    end_ns: int
    label: str | None


@dataclass(frozen=True, slots=True)
class LabelResult:
    """The outcome for one label; times in epoch ns, delays in seconds."""

    label: Label
    covered: bool  # some replay covers [onset, end]
    detected: bool
    fired_ns: int | None = None
    scope: str | None = None
    kind: str | None = None
    delay_s: float | None = None
    lead_s: float | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Overall and per-label results; delays and leads in seconds."""

    labels: list[LabelResult]
    incidents: list[Incident]
    recall: float | None
    precision: float | None
    f1: float | None
    median_delay_s: float | None
    p90_delay_s: float | None
    median_lead_s: float | None
    false_alarms: int
    asset_days: float
    days: float
    false_alarms_per_asset_day: float | None
    false_alarms_per_day: float | None
    time_in_alert: float | None
    asset_time_in_alert: float | None


@dataclass(frozen=True, slots=True)
class Rules:
    """Matching parameters (a first firing in [onset − 10 min, end]; incidents 30 min apart).

    Attributes:
        grace_s: how long before onset a first firing still counts, seconds.
        cooldown_s: firings of one scope closer than this merge into one incident, seconds.
        kinds: alert kinds that count; empty = all but ``data_gap``.
    """

    grace_s: float = 600.0
    cooldown_s: float = 1800.0
    kinds: frozenset[str] = frozenset()

    def counts(self, kind: str) -> bool:
        """Return whether alerts of `kind` take part."""
        return kind in self.kinds if self.kinds else kind != "data_gap"


def firing_intervals(rec: Recording, rules: Rules) -> list[Interval]:
    """Return the recording's firing intervals, sorted by start."""
    open_: dict[tuple[str, str], int] = {}
    out: list[Interval] = []
    for a in rec.alerts:
        if not rules.counts(a.kind):
            continue
        key = (a.kind, a.scope)
        if a.state == "firing" and key not in open_:
            open_[key] = a.ts_ns
        elif a.state == "resolved" and key in open_:
            out.append(Interval(a.kind, a.scope, open_.pop(key), a.ts_ns))
    out += [Interval(k, s, t, max(rec.last_ns, t)) for (k, s), t in open_.items()]
    out.sort(key=lambda i: (i.start_ns, i.scope, i.kind))
    return out


def score(
    recordings: Sequence[Recording],
    labels: Sequence[Label],
    classes: Mapping[str, AssetClass],
    rules: Rules | None = None,
) -> Report:
    """Score every recording's alerts against `labels`.

    Args:
        recordings: the replays' results.
        labels: ground truth.
        classes: asset → class for scopes not seen in any recording (the config's table).
        rules: matching parameters.
    """
    rules = rules or Rules()
    table: dict[str, AssetClass] = dict(classes)
    for rec in recordings:
        table.update(rec.classes)
    intervals = {rec.name: firing_intervals(rec, rules) for rec in recordings}
    results = [_label_result(lab, recordings, intervals, table, rules) for lab in labels]
    incidents: list[Incident] = []
    for rec in recordings:
        incidents += _incidents(rec, intervals[rec.name], labels, table, rules)
    return _report(results, incidents, recordings, intervals)


def _applies(lab: Label, rec: Recording) -> bool:
    return lab.recording is None or lab.recording == rec.name


def _class_of(scope: str, table: Mapping[str, AssetClass]) -> str:
    if scope == MARKET or scope in ASSET_CLASSES:
        return scope
    return table.get(scope, "crypto")


def _detecting_scopes(lab: Label, table: Mapping[str, AssetClass]) -> set[str]:
    scopes = {lab.scope}
    if lab.match in ("class", "market"):
        scopes.add(_class_of(lab.scope, table))
    if lab.match == "market":
        scopes.add(MARKET)
    return scopes


def _related(lab: Label, scope: str, table: Mapping[str, AssetClass]) -> bool:
    if scope in (lab.scope, MARKET) or lab.scope == MARKET:
        return True
    if lab.scope in ASSET_CLASSES:
        return _class_of(scope, table) == lab.scope
    return scope == _class_of(lab.scope, table)


def _label_result(
    lab: Label,
    recordings: Sequence[Recording],
    intervals: Mapping[str, list[Interval]],
    table: Mapping[str, AssetClass],
    rules: Rules,
) -> LabelResult:
    grace = round(rules.grace_s * NS)
    recs = [
        r for r in recordings
        if _applies(lab, r) and r.first_ns <= lab.onset_ns and lab.end_ns <= r.last_ns
    ]  # fmt: skip
    if not recs:
        return LabelResult(lab, covered=False, detected=False)
    scopes = _detecting_scopes(lab, table)
    hits = [
        i
        for r in recs
        for i in intervals[r.name]
        if i.scope in scopes and lab.onset_ns - grace <= i.start_ns <= lab.end_ns
    ]
    if not hits:
        return LabelResult(lab, covered=True, detected=False)
    first = min(hits, key=lambda i: (i.start_ns, i.scope, i.kind))
    return LabelResult(
        lab,
        covered=True,
        detected=True,
        fired_ns=first.start_ns,
        scope=first.scope,
        kind=first.kind,
        delay_s=(first.start_ns - lab.onset_ns) / NS,
        lead_s=(lab.peak_ns - first.start_ns) / NS,
    )


def _incidents(
    rec: Recording,
    intervals: list[Interval],
    labels: Sequence[Label],
    table: Mapping[str, AssetClass],
    rules: Rules,
) -> list[Incident]:
    cooldown, grace = round(rules.cooldown_s * NS), round(rules.grace_s * NS)
    merged: list[list[Interval]] = []
    last_of: dict[str, list[Interval]] = {}
    for iv in intervals:  # sorted by start
        group = last_of.get(iv.scope)
        if group is not None and iv.start_ns <= max(g.end_ns for g in group) + cooldown:
            group.append(iv)
            continue
        group = [iv]
        merged.append(group)
        last_of[iv.scope] = group
    out = []
    for group in merged:
        head = group[0]
        match = next(
            (
                lab.name
                for lab in labels
                if _applies(lab, rec)
                and lab.onset_ns - grace <= head.start_ns <= lab.end_ns
                and _related(lab, head.scope, table)
            ),
            None,
        )
        end = max(g.end_ns for g in group)
        out.append(Incident(rec.name, head.scope, head.kind, head.start_ns, end, match))
    return out


def _union_ns(spans: Iterable[tuple[int, int]]) -> int:
    total, cur_start, cur_end = 0, None, None
    for start, end in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def _report(
    results: list[LabelResult],
    incidents: list[Incident],
    recordings: Sequence[Recording],
    intervals: Mapping[str, list[Interval]],
) -> Report:
    covered = [r for r in results if r.covered]
    detected = [r for r in covered if r.detected]
    delays = np.array([r.delay_s for r in detected if r.delay_s is not None])
    leads = np.array([r.lead_s for r in detected if r.lead_s is not None])
    recall = len(detected) / len(covered) if covered else None
    tp = sum(1 for i in incidents if i.label is not None)
    precision = tp / len(incidents) if incidents else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else None
    )
    days = sum(r.span_ns for r in recordings) / DAY_NS
    asset_days = sum(len(r.classes) * r.span_ns for r in recordings) / DAY_NS
    false = [i for i in incidents if i.label is None]
    false_assets = [i for i in false if i.scope != MARKET and i.scope not in ASSET_CLASSES]
    in_alert = sum(_union_ns((i.start_ns, i.end_ns) for i in intervals[r.name]) for r in recordings)
    asset_in_alert = sum(
        _union_ns((i.start_ns, i.end_ns) for i in intervals[r.name] if i.scope == asset)
        for r in recordings
        for asset in r.classes
    )
    span = days * DAY_NS
    return Report(
        labels=results,
        incidents=incidents,
        recall=recall,
        precision=precision,
        f1=f1,
        median_delay_s=float(np.median(delays)) if delays.size else None,
        p90_delay_s=float(np.percentile(delays, 90)) if delays.size else None,
        median_lead_s=float(np.median(leads)) if leads.size else None,
        false_alarms=len(false),
        asset_days=asset_days,
        days=days,
        false_alarms_per_asset_day=len(false_assets) / asset_days if asset_days else None,
        false_alarms_per_day=len(false) / days if days else None,
        time_in_alert=in_alert / span if span else None,
        asset_time_in_alert=asset_in_alert / (asset_days * DAY_NS) if asset_days else None,
    )
