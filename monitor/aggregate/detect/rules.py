"""User threshold rules from config (``detect.rules``): pure checks of one rule each.

A USD rule reads its scope's running window sums; a breadth rule counts the assets with a
firing alert whose incident started within its window. Both raise ``threshold`` alerts on
the rule's scope, with the rule's name and the numbers as evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.aggregate.detect.detectors import Signal
from monitor.aggregate.windows.scopes import Level
from monitor.config.signals import ThresholdRule
from monitor.events import ASSET_CLASSES, NS, AssetClass, EvidenceValue


def rule_level(scope: str) -> Level:
    """Return the scope level a rule's scope names: ``market``, ``class`` or ``asset``."""
    if scope == "market":
        return "market"
    return "class" if scope in ASSET_CLASSES else "asset"


def check_usd_rule(rule: ThresholdRule, long_usd: float, short_usd: float) -> Signal | None:
    """Return a signal when the rule's side liquidated ≥ ``usd`` over its window, else None.

    `long_usd` and `short_usd` are the scope's sums over ``rule.window_s``.
    """
    if rule.usd is None:
        return None
    seen = {"long": long_usd, "short": short_usd, "both": long_usd + short_usd}[rule.side]
    if seen < rule.usd:
        return None
    side = {"long": "longs", "short": "shorts", "both": "both sides"}[rule.side]
    evidence: dict[str, EvidenceValue] = {
        "rule": rule.name,
        "window_s": rule.window_s,
        "side": rule.side,
        "threshold_usd": rule.usd,
        "liquidated_usd": round(seen, 2),
        "long_usd": round(long_usd, 2),
        "short_usd": round(short_usd, 2),
    }
    return Signal(
        kind="threshold",
        scope=rule.scope,
        severity=rule.severity,
        score=seen / rule.usd,
        summary="rule %s: %s: $%.0f of %s liquidated in %ds (threshold $%.0f)"
        % (rule.name, rule.scope, seen, side, rule.window_s, rule.usd),
        evidence=evidence,
    )


@dataclass(frozen=True, slots=True)
class AssetAlert:
    """A firing alert on an asset scope, as a breadth rule sees it."""

    asset: str
    asset_class: AssetClass | None
    kind: str
    started_ns: int


def check_breadth_rule(
    rule: ThresholdRule, alerts: Iterable[AssetAlert], now_ns: int
) -> Signal | None:
    """Return a signal when ≥ ``min_assets`` assets have a firing alert started within the window.

    For a class scope only assets of that class count.
    """
    if rule.min_assets is None:
        return None
    since = now_ns - rule.window_s * NS
    first: dict[str, AssetAlert] = {}
    for a in alerts:
        if a.started_ns < since or rule.scope not in ("market", a.asset_class):
            continue
        if a.asset not in first or a.started_ns < first[a.asset].started_ns:
            first[a.asset] = a
    if len(first) < rule.min_assets:
        return None
    order = sorted(first.values(), key=lambda a: (a.started_ns, a.asset))
    assets = [a.asset for a in order]
    evidence: dict[str, EvidenceValue] = {
        "rule": rule.name,
        "window_s": rule.window_s,
        "min_assets": rule.min_assets,
        "assets_in_alert": len(assets),
        "assets": assets,
        "kinds": ["%s:%s" % (a.asset, a.kind) for a in order],
    }
    return Signal(
        kind="threshold",
        scope=rule.scope,
        severity=rule.severity,
        score=len(assets) / rule.min_assets,
        summary="rule %s: %d assets in alert within %ds (%s; threshold %d)"
        % (rule.name, len(assets), rule.window_s, ", ".join(assets), rule.min_assets),
        evidence=evidence,
    )
