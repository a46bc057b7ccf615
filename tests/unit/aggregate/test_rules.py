"""User threshold rules: USD over a window on a side, breadth of assets in alert."""

from monitor.aggregate.detect.rules import (
    AssetAlert,
    check_breadth_rule,
    check_usd_rule,
    rule_level,
)
from monitor.config.signals import ThresholdRule

NS = 1_000_000_000
T0 = 1_770_249_600 * NS


def test_rule_level_of_a_scope():
    assert [rule_level(s) for s in ("market", "metal", "BTC")] == ["market", "class", "asset"]


def test_usd_rule_reads_its_side():
    longs = ThresholdRule(name="btc-longs", usd=5e6, window_s=60, side="long", scope="BTC")
    both = ThresholdRule(name="btc-all", usd=5e6, window_s=60, scope="BTC", severity="critical")

    assert check_usd_rule(longs, 4_999_999.0, 3e6) is None
    sig = check_usd_rule(longs, 5.5e6, 0.0)
    total = check_usd_rule(both, 3e6, 2.5e6)

    assert sig is not None
    assert (sig.kind, sig.scope, sig.severity) == ("threshold", "BTC", "warning")
    assert sig.evidence["rule"] == "btc-longs"
    assert sig.evidence["liquidated_usd"] == 5.5e6
    assert sig.score == 1.1
    assert total is not None
    assert total.severity == "critical"
    assert total.evidence["liquidated_usd"] == 5.5e6


def test_breadth_rule_counts_assets_whose_alert_started_within_the_window():
    rule = ThresholdRule(name="three", min_assets=3, window_s=600)
    metals = ThresholdRule(name="metals", min_assets=2, window_s=600, scope="metal")
    alerts = [
        AssetAlert("BTC", "crypto", "cascade", T0 - 100 * NS),
        AssetAlert("BTC", "crypto", "liquidity_stress", T0 - 500 * NS),  # same asset once
        AssetAlert("XAG", "metal", "cascade", T0 - 300 * NS),
        AssetAlert("XAU", "metal", "cascade", T0 - 700 * NS),  # started too long ago
    ]
    now = T0

    assert check_breadth_rule(rule, alerts, now) is None
    sig = check_breadth_rule(rule, [*alerts, AssetAlert("NVDA", "equity", "cascade", T0)], now)
    assert check_breadth_rule(metals, alerts, now) is None
    assert check_breadth_rule(metals, alerts, T0 - 100 * NS) is not None  # XAU still inside

    assert sig is not None
    assert (sig.kind, sig.scope) == ("threshold", "market")
    assert sig.evidence["assets"] == ["BTC", "XAG", "NVDA"]
    assert sig.evidence["assets_in_alert"] == 3
    assert sig.evidence["kinds"] == ["BTC:liquidity_stress", "XAG:cascade", "NVDA:cascade"]
