"""The price-crash rule: an instrument falling fast from a recent high (alerts on its asset).

Two tests, either makes the instrument hot (price-only data such as klines suffices):

- **own history**: the fall score z of a window (the fall from the window's high in units
  of the instrument's long-run 1-minute sd, `InstrumentPrices.sd_long`, scaled to the
  window) reaches the return level of the instrument's own hourly maxima for the alert
  budget (`tails.Gumbel.level` at 24 · ``budget_days`` hours), and the fall is at least the
  window's ``guard_drop`` (a sanity floor, so a dead-flat market cannot alert on a tick).
  Until ``tail_min_hours`` hours of maxima exist, ``prior_z`` stands in for the fit.
- **absolute**: the fall reaches the window's ``min_drop`` and ``z_warning`` sd of the
  short (1-day EWMA) volatility: a fall that large is a crash whatever the history says.

Called by the engine every second for each instrument whose prices changed or that is hot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from monitor.aggregate.detect.crash_tail import Gumbel
from monitor.aggregate.detect.detectors import Signal, rarity
from monitor.aggregate.windows.prices import InstrumentPrices, PriceWindows
from monitor.config import CrashSettings
from monitor.events import EvidenceValue, Severity

HOURS_PER_DAY = 24.0


def detect_crash(inst: InstrumentPrices, second: int, cfg: CrashSettings) -> Signal | None:
    """Return a signal if `inst` fell fast from a recent high at `second`, else None."""
    sd_short = inst.sd_1m(cfg.prior_sd_1m, cfg.warmup_min)
    scores = inst.fall_scores(second)
    budget_h = HOURS_PER_DAY * cfg.budget_days
    best: tuple[float, int, str, float, Gumbel | None] | None = None  # ratio, w, test, z, fit
    for w, window_s in enumerate(inst.windows_s):
        high = inst.window_high(w, second)
        if not high > 0:
            continue
        fall = 1.0 - inst.last / high
        z_short = fall / max(sd_short * math.sqrt(window_s / 60.0), 1e-12)
        if fall >= cfg.min_drop[w] and z_short >= cfg.z_warning:
            ratio = z_short / cfg.z_warning
            if best is None or ratio > best[0]:
                best = (ratio, w, "absolute", z_short, None)
        fit = inst.falls.fit(w, cfg.tail_min_hours)
        level = fit.level(budget_h) if fit is not None else cfg.prior_z[w]
        level = max(level, cfg.min_z)
        if fall >= cfg.guard_drop[w] and scores[w] >= level:
            ratio = scores[w] / level
            if best is None or ratio > best[0]:
                best = (ratio, w, "own_history", level, fit)
    if best is None:
        return None
    return _signal(inst, second, cfg, best, scores, sd_short)


def detect_crashes(
    prices: PriceWindows, hot: set[str], second: int, updated: Iterable[str], cfg: CrashSettings
) -> list[Signal]:
    """Return the crash signals at `second` of the instruments updated in it or still hot.

    `hot` (instrument keys) is kept by the caller across seconds and updated here: an
    instrument stays evaluated every second while it signals, so its alert can resolve.
    """
    signals: list[Signal] = []
    for key in sorted(hot.union(updated)):
        sig = detect_crash(prices.instruments[key], second, cfg)
        if sig is None:
            hot.discard(key)
        else:
            hot.add(key)
            signals.append(sig)
    return signals


def _signal(
    inst: InstrumentPrices,
    second: int,
    cfg: CrashSettings,
    best: tuple[float, int, str, float, Gumbel | None],
    scores: list[float],
    sd_short: float,
) -> Signal:
    ratio, w, test, level, fit = best
    window_s = inst.windows_s[w]
    high = inst.window_high(w, second)
    fall = 1.0 - inst.last / high
    days = fit.period(scores[w]) / HOURS_PER_DAY if fit is not None else math.nan
    # the absolute test's `level` is its z on the short sd
    critical = level >= cfg.z_critical if test == "absolute" else days >= cfg.critical_days
    severity: Severity = "critical" if critical else "warning"
    words = rarity(days, inst.asset)
    evidence: dict[str, EvidenceValue] = {
        "instrument": inst.key,
        "window_s": window_s,
        "drawdown": round(-fall, 6),
        "price": inst.last,
        "window_high": high,
        "test": test,
        "fall_z": round(scores[w], 3),
        "sd_1m": round(sd_short, 6),
        "sd_1m_long_run": round(inst.sd_long(), 6),
        "history_hours": len(inst.falls.blocks),
    }
    if test == "own_history":
        evidence["threshold_z"] = round(level, 3)
    else:
        evidence["price_z"] = round(-level, 3)
    if fit is not None:
        evidence["return_period_days"] = round(days, 1) if math.isfinite(days) else "inf"
        evidence["rarity"] = words
    detail = words if fit is not None else "z %.1f" % scores[w]
    return Signal(
        kind="cascade",
        scope=inst.asset,
        severity=severity,
        score=ratio,
        summary="%s: %s fell %.1f%% in %ds, %s → %s (%s)"
        % (inst.asset, inst.key, 100 * fall, window_s, _num(high), _num(inst.last), detail),
        evidence=evidence,
    )


def _num(value: float) -> str:
    return "%.6g" % value
