"""Detectors over the alert state rather than the windows: margin-hike cascade, contagion.

Both are pure functions of which scopes are (or recently were) in a cascade, when each
first fired and last stopped firing, the margin changes received and (contagion) the
downside correlation across asset classes. They report the order in which scopes entered
alert; that order is evidence, not causality.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from monitor.aggregate.detect.correlation import Downside
from monitor.aggregate.detect.detectors import Signal
from monitor.config import ContagionSettings, MarginHikeSettings
from monitor.events import (
    ASSET_CLASSES,
    NS,
    Alert,
    AssetClass,
    EvidenceValue,
    MarginChange,
    Severity,
)

HOUR_NS = 3600 * NS


STRESS_KINDS: Final = frozenset({"cascade", "deleveraging"})
"""Alert kinds that mark a scope as in forced selling, for contagion and margin hikes."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A scope that entered a cascade alert.

    Attributes:
        scope: an asset, an asset class or ``market``.
        asset_class: the class the scope belongs to (itself for a class; None for market).
        first_ns: event time of its first firing in this episode.
        active: still firing now (False: resolved, kept for the spread window).
        until_ns: when it last stopped firing (None: firing, or not known; then
            ``first_ns`` stands for it).
    """

    scope: str
    asset_class: AssetClass | None
    first_ns: int
    active: bool
    until_ns: int | None = None

    def fired_since(self, since_ns: int) -> bool:
        """Return True if the scope was firing at some time at or after `since_ns`."""
        if self.active:
            return True
        last = self.until_ns if self.until_ns is not None else self.first_ns
        return last >= since_ns


def armed(
    changes: Iterable[MarginChange], now_ns: int, cfg: MarginHikeSettings
) -> dict[str, MarginChange]:
    """Return the strongest arming tightening per asset at `now_ns`.

    A change arms its asset from its notice until effective + ``horizon_h``, when its D is at
    least ``min_tightening``. Profile rows (``SI:HRP``) repeat the headline product and are
    ignored; loosenings (D < 0) never arm.
    """
    out: dict[str, MarginChange] = {}
    horizon_ns = int(cfg.horizon_h * HOUR_NS)
    for change in changes:
        if change.tightening < cfg.min_tightening or ":" in change.product:
            continue
        if not change.notice_ts_ns <= now_ns <= change.effective_ts_ns + horizon_ns:
            continue
        best = out.get(change.asset)
        if best is None or change.tightening > best.tightening:
            out[change.asset] = change
    return out


def detect_margin_hike(
    arming: Mapping[str, MarginChange],
    entries: Sequence[Entry],
    now_ns: int,
    cfg: MarginHikeSettings,
) -> list[Signal]:
    """Return one signal per asset class whose armed cascade spread to another class.

    For each class with armed assets: the episode starts when an armed asset (or the class)
    first entered a cascade after the notice. It is hot from the moment a scope of another
    asset class entered a cascade within ``spread_h`` of that start, until ``spread_h``
    after the start: one incident per margin-hike episode, however often the assets
    re-enter. The evidence names the strongest arming change and the order of entry.
    """
    spread_ns = int(cfg.spread_h * HOUR_NS)
    by_class: dict[AssetClass, list[MarginChange]] = {}
    for change in arming.values():
        by_class.setdefault(change.asset_class, []).append(change)
    signals: list[Signal] = []
    for cls, changes in sorted(by_class.items()):
        change = max(changes, key=lambda c: (c.tightening, c.asset))
        since = min(c.notice_ts_ns for c in changes) - spread_ns
        armed_scopes = {c.asset for c in changes} | {cls}
        own = [e for e in entries if e.scope in armed_scopes and e.first_ns >= since]
        if not own:
            continue
        start = min(e.first_ns for e in own)
        others = [
            e
            for e in entries
            if e.asset_class not in (None, cls) and start <= e.first_ns <= start + spread_ns
        ]
        if not others or now_ns > start + spread_ns:
            continue
        signals.append(_margin_signal(cls, change, changes, entries, others, since))
    return signals


def _margin_signal(
    cls: AssetClass,
    change: MarginChange,
    changes: Sequence[MarginChange],
    entries: Sequence[Entry],
    others: Sequence[Entry],
    since: int,
) -> Signal:
    order = [e.scope for e in _ordered(entries) if e.first_ns >= since and e.scope != "market"]
    spread_to: list[str] = list(
        dict.fromkeys(e.asset_class for e in _ordered(others) if e.asset_class)
    )
    evidence: dict[str, EvidenceValue] = {
        "margin_venue": change.venue,
        "margin_product": change.product,
        "margin_asset": change.asset,
        "margin_basis": change.basis,
        "margin_old": change.old,
        "margin_new": change.new,
        "tightening": round(change.tightening, 4),
        "margin_event_id": change.event_id,
        "notice_ts_ns": change.notice_ts_ns,
        "effective_ts_ns": change.effective_ts_ns,
        "armed_by": ["%s %s %g→%g" % (c.venue, c.product, c.old, c.new) for c in changes],
        "entered_order": order,
        "spread_to": spread_to,
    }
    # warning when the stress reached one other class, critical from two: the escalation
    # re-emits the alert with the longer order of entry as evidence
    severity: Severity = "critical" if len(spread_to) >= 2 else "warning"
    return Signal(
        kind="margin_hike_cascade",
        scope=cls,
        severity=severity,
        score=change.tightening * (1 + len(spread_to)),
        summary="%s: %s %s margin %g → %g (D %.3f) armed it; cascades then in %s"
        % (
            cls,
            change.venue,
            change.product,
            change.old,
            change.new,
            change.tightening,
            ", ".join(order),
        ),
        evidence=evidence,
    )


def detect_contagion(
    entries: Sequence[Entry],
    now_ns: int,
    cfg: ContagionSettings,
    downside: Downside | None = None,
) -> list[Signal]:
    """Return a market-wide signal when cascades spread across asset classes.

    Breadth: asset classes with a scope whose cascade fired within ``window_h`` before
    `now_ns`. Hot while some cascade fires now and breadth ≥ ``min_classes``. Critical from
    ``critical_classes``, or when the downside correlation is ≥ ``corr_critical`` and ≥
    ``corr_rise`` above its baseline. The correlation is evidence whenever known.
    """
    since = now_ns - int(cfg.window_h * HOUR_NS)
    recent = [e for e in _ordered(entries) if e.asset_class is not None and e.fired_since(since)]
    classes: list[str] = list(dict.fromkeys(e.asset_class for e in recent if e.asset_class))
    firing = [e.scope for e in recent if e.active]
    if len(classes) < cfg.min_classes or not firing:
        return []
    correlated = (
        downside is not None
        and downside.corr >= cfg.corr_critical
        and downside.rise >= cfg.corr_rise  # False while the baseline is NaN
    )
    critical = len(classes) >= cfg.critical_classes or correlated
    severity: Severity = "critical" if critical else "warning"
    order = [e.scope for e in recent]
    evidence: dict[str, EvidenceValue] = {
        "classes": classes,
        "entered_order": order,
        "breadth": len(classes),
        "firing_now": firing,
        "window_h": cfg.window_h,
    }
    corr_text = ""
    if downside is not None:
        evidence["downside_corr"] = round(downside.corr, 4)
        evidence["downside_minutes"] = downside.minutes
        evidence["downside_pairs"] = downside.pairs
        if not math.isnan(downside.baseline):
            evidence["downside_corr_baseline"] = round(downside.baseline, 4)
            evidence["downside_corr_rise"] = round(downside.rise, 4)
        corr_text = "; downside correlation %.2f" % downside.corr
    return [
        Signal(
            kind="contagion",
            scope="market",
            severity=severity,
            score=float(len(classes)) + (1.0 if correlated else 0.0),
            summary="market: cascades in %d asset classes within %gh (%s); entered %s%s"
            % (len(classes), cfg.window_h, ", ".join(classes), ", ".join(order), corr_text),
            evidence=evidence,
        )
    ]


def _ordered(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.first_ns, e.scope))


@dataclass
class Spread:
    """Which scopes entered a cascade alert, when, and which class each belongs to.

    The engine calls `signals` before each alert-book update (so the overlays see the state
    as of the previous evaluation) and `track` with the transitions it returned.
    """

    class_of: dict[str, AssetClass] = field(default_factory=dict)  # asset → class
    entered: dict[str, Entry] = field(default_factory=dict)
    downside: Downside | None = None  # set once a minute by the engine's extra detectors
    keep_h: float = 0.0  # keep resolved entries at least this long (the contagion window)

    def signals(
        self,
        ts_ns: int,
        changes: Sequence[MarginChange],
        margin: MarginHikeSettings,
        contagion: ContagionSettings,
    ) -> list[Signal]:
        """Return the margin-hike cascade and contagion signals at `ts_ns`."""
        if not self.entered:
            return []
        entries = list(self.entered.values())
        arming = armed(changes, ts_ns, margin) if changes else {}
        found = detect_margin_hike(arming, entries, ts_ns, margin) if arming else []
        return found + detect_contagion(entries, ts_ns, contagion, self.downside)

    def track(self, alerts: Iterable[Alert], ts_ns: int, margin: MarginHikeSettings) -> None:
        """Record when each scope's cascade first fired and when it stopped firing.

        A deleveraging alert (open interest unwinding) counts as a cascade here: it is the
        same forced selling, seen where the liquidation feeds undercount it.
        """
        for alert in alerts:
            if alert.kind not in STRESS_KINDS or alert.state == "pending":
                continue
            entry = self.entered.get(alert.scope)
            if alert.state == "firing":
                first = entry.first_ns if entry is not None else ts_ns
                cls = self._class_of_scope(alert.scope)
                self.entered[alert.scope] = Entry(alert.scope, cls, first, active=True)
            elif entry is not None and entry.active:
                self.entered[alert.scope] = dataclasses.replace(entry, active=False, until_ns=ts_ns)
        keep_ns = int(max(2 * margin.spread_h, self.keep_h) * HOUR_NS)
        for scope, entry in list(self.entered.items()):
            if not entry.active and entry.first_ns < ts_ns - keep_ns:
                del self.entered[scope]

    def _class_of_scope(self, scope: str) -> AssetClass | None:
        for cls in ASSET_CLASSES:
            if scope == cls:
                return cls
        return None if scope == "market" else self.class_of.get(scope)
