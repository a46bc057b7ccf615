"""Detectors: pure functions from window state to `Signal`s (no I/O, no clock, no state).

A `Signal` says "this scope is hot now, this badly, because of these numbers". The alert
state machine (`monitor.alerts.lifecycle`) turns a stream of signals into pending → firing →
resolved alerts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.config import BurstSettings
from monitor.events import AlertKind, EvidenceValue, Severity

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Signal:
    """A scope that a detector finds hot at one evaluation."""

    kind: AlertKind
    scope: str
    severity: Severity
    score: float  # larger is worse; picks the strongest of several signals for one scope
    summary: str
    evidence: dict[str, EvidenceValue]
    for_s: float | None = None  # hot this long before firing; None: the lifecycle's for_s


@dataclass(frozen=True, slots=True)
class BurstCandidates:
    """Scopes whose window sum passed their USD floor, with what the rule needs.

    All arrays are aligned, one entry per scope. ``warm`` is False while a scope's
    baselines are warming up (then ``z``, ``cusum`` and ``ratio`` are not used).

    Attributes:
        long_usd, short_usd: liquidated USD over the window, by side.
        events: liquidations in the window.
        floor_usd: the scope's USD floor (already × the warm-up multiple while warming).
        z: robust z of log(1 + USD/ref) against the hour-of-week baseline.
        baseline_usd: that baseline, USD per minute.
        cusum: the per-minute CUSUM S, sd units.
        ratio: Hawkes intensity ratio λ̂/μ̂.
        rate_per_min, base_rate_per_min: λ̂ and μ̂, events per minute.
        window_s: the window, seconds.
        held: True where the scope's cascade alert is already pending or firing: there the
            λ̂/μ̂ test passes from ``intensity_ratio_hold`` (hysteresis). None: nowhere.
    """

    scopes: list[str]
    long_usd: F64
    short_usd: F64
    events: F64
    floor_usd: F64
    warm: npt.NDArray[np.bool_]
    z: F64
    baseline_usd: F64
    cusum: F64
    ratio: F64
    rate_per_min: F64
    base_rate_per_min: F64
    window_s: int
    held: npt.NDArray[np.bool_] | None = None


def burst_triggers(
    z: float, cusum: float, ratio: float, cfg: BurstSettings, held: bool = False
) -> list[str]:
    """Return which relative tests pass: ``z`` (robust z), ``cusum``, ``hawkes`` (λ̂/μ̂).

    A `held` scope (already in alert) passes ``hawkes`` from ``intensity_ratio_hold``.
    """
    out = []
    if z >= cfg.z_warning:
        out.append("z")
    if cusum >= cfg.cusum_h:
        out.append("cusum")
    if ratio >= (cfg.intensity_ratio_hold if held else cfg.intensity_ratio_warning):
        out.append("hawkes")
    return out


def detect_bursts(c: BurstCandidates, cfg: BurstSettings) -> list[Signal]:
    """Return a signal for each candidate with a one-sided burst above its baselines.

    Hot when total ≥ floor, one side's share ≥ ``min_side_share``, events ≥ ``min_events``
    and (once warm) z ≥ ``z_warning`` or CUSUM ≥ ``cusum_h`` or λ̂/μ̂ ≥
    ``intensity_ratio_warning``, with λ̂/μ̂ ≥ ``intensity_ratio_min`` in every case (the
    liquidation rate itself must have risen); while warming up the (raised) floor alone
    decides. Critical when z ≥ ``z_critical``, λ̂/μ̂ ≥ ``intensity_ratio_critical`` or the
    total ≥ ``critical_floor_multiple`` × floor. Evidence carries every number the rule used.
    The signals fire after ``for_s`` of being hot (the rule already asks for several
    liquidations over the window, so it needs less confirmation than a price test).
    """
    signals: list[Signal] = []
    for i, scope in enumerate(c.scopes):
        long_usd, short_usd = float(c.long_usd[i]), float(c.short_usd[i])
        total = long_usd + short_usd
        share = max(long_usd, short_usd) / total if total > 0 else 0.0
        floor = float(c.floor_usd[i])
        if total < floor or share < cfg.min_side_share or c.events[i] < cfg.min_events:
            continue
        warm = bool(c.warm[i])
        z, cusum, ratio = float(c.z[i]), float(c.cusum[i]), float(c.ratio[i])
        held = c.held is not None and bool(c.held[i])
        triggers = burst_triggers(z, cusum, ratio, cfg, held) if warm else ["warm-up floor"]
        if not triggers or (warm and ratio < cfg.intensity_ratio_min):
            continue  # USD without more liquidations (a few whale prints) is no cascade
        big = total >= cfg.critical_floor_multiple * floor
        strong = warm and (z >= cfg.z_critical or ratio >= cfg.intensity_ratio_critical)
        severity: Severity = "critical" if big or strong else "warning"
        side = "longs" if long_usd >= short_usd else "shorts"
        detail = (
            "z %.1f, cusum %.1f, λ/μ %.1f" % (z, cusum, ratio) if warm else "warm-up, floor only"
        )
        evidence: dict[str, EvidenceValue] = {
            "window_s": c.window_s,
            "liquidated_usd": round(total, 2),
            "long_usd": round(long_usd, 2),
            "short_usd": round(short_usd, 2),
            "side_share": round(share, 4),
            "events": int(c.events[i]),
            "floor_usd": floor,
            "baseline_usd": round(float(c.baseline_usd[i]), 2),
            "triggers": triggers,
            "warm": int(warm),
            "held": int(held),
        }
        if warm:
            evidence.update(
                {
                    "z": round(z, 3),
                    "cusum": round(cusum, 3),
                    "intensity_ratio": round(ratio, 3),
                    "rate_per_min": round(float(c.rate_per_min[i]), 3),
                    "baseline_rate_per_min": round(float(c.base_rate_per_min[i]), 4),
                    "excited_share": round(max(0.0, 1.0 - 1.0 / ratio) if ratio > 0 else 0.0, 4),
                }
            )
        signals.append(
            Signal(
                kind="cascade",
                scope=scope,
                severity=severity,
                score=total / floor,
                summary="%s: $%s liquidated in %ds, %.0f%% %s (%s; %s)"
                % (scope, _usd(total), c.window_s, 100 * share, side, "+".join(triggers), detail),
                evidence=evidence,
                for_s=cfg.for_s,
            )
        )
    return signals


def rarity(days: float, scope: str) -> str:
    """Say how rare a move is for `scope` from its return period in days.

    "1-in-0.3-days for BTC" under 10 days, "1-in-40-days for BTC", "1-in-2.5-years for BTC"
    from a year; "rarer than 1-in-1000-days for BTC" past that horizon or when the history
    cannot say (an infinite period); "rarity unknown for BTC" for NaN. One wording for every
    detector's evidence and summary.
    """
    if math.isnan(days):
        return "rarity unknown for %s" % scope
    if days >= 1000.0:
        return "rarer than 1-in-1000-days for %s" % scope
    if days >= 365.0:
        return "1-in-%.1f-years for %s" % (days / 365.0, scope)
    return "1-in-%s-days for %s" % ("%.0f" % days if days >= 10 else "%.1f" % days, scope)


def _usd(value: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return "%.2f%s" % (value / size, unit)
    return "%.0f" % value
