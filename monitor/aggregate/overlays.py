"""Detectors over the alert state rather than the windows: margin-hike cascade, contagion.

Both are pure functions of which scopes are (or recently were) in a cascade, when each
first fired, and the margin changes received. They report the order in which scopes
entered alert; that order is evidence, not causality (DETECTION.md §4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.aggregate.detectors import Signal
from monitor.config import ContagionSettings, MarginHikeSettings
from monitor.events import ASSET_CLASSES, Alert, AssetClass, EvidenceValue, MarginChange, Severity

NS = 1_000_000_000
HOUR_NS = 3600 * NS


@dataclass(frozen=True, slots=True)
class Entry:
    """A scope that entered a cascade alert.

    Attributes:
        scope: an asset, an asset class or ``market``.
        asset_class: the class the scope belongs to (itself for a class; None for market).
        first_ns: event time of its first firing in this episode.
        active: still firing now (False: resolved, kept for the spread window).
    """

    scope: str
    asset_class: AssetClass | None
    first_ns: int
    active: bool


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


def detect_contagion(entries: Sequence[Entry], cfg: ContagionSettings) -> list[Signal]:
    """Return a market-wide signal while cascades fire in ``min_classes`` asset classes."""
    active = [e for e in _ordered(entries) if e.active and e.asset_class is not None]
    classes: list[str] = list(dict.fromkeys(e.asset_class for e in active if e.asset_class))
    if len(classes) < cfg.min_classes:
        return []
    severity: Severity = "critical" if len(classes) >= cfg.critical_classes else "warning"
    order = [e.scope for e in active]
    return [
        Signal(
            kind="contagion",
            scope="market",
            severity=severity,
            score=float(len(classes)),
            summary="market: cascades in %d asset classes (%s); entered %s"
            % (len(classes), ", ".join(classes), ", ".join(order)),
            evidence={"classes": classes, "entered_order": order, "breadth": len(classes)},
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
        return found + detect_contagion(entries, contagion)

    def track(self, alerts: Iterable[Alert], ts_ns: int, margin: MarginHikeSettings) -> None:
        """Record when each scope's cascade first fired and when it stopped firing."""
        for alert in alerts:
            if alert.kind != "cascade" or alert.state == "pending":
                continue
            entry = self.entered.get(alert.scope)
            if alert.state == "firing":
                first = entry.first_ns if entry is not None else ts_ns
                cls = self._class_of_scope(alert.scope)
                self.entered[alert.scope] = Entry(alert.scope, cls, first, active=True)
            elif entry is not None:
                self.entered[alert.scope] = dataclasses.replace(entry, active=False)
        keep_ns = int(2 * margin.spread_h * HOUR_NS)
        for scope, entry in list(self.entered.items()):
            if not entry.active and entry.first_ns < ts_ns - keep_ns:
                del self.entered[scope]

    def _class_of_scope(self, scope: str) -> AssetClass | None:
        for cls in ASSET_CLASSES:
            if scope == cls:
                return cls
        return None if scope == "market" else self.class_of.get(scope)
