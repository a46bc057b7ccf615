import math

from monitor.aggregate.detect.correlation import Downside
from monitor.aggregate.detect.overlays import Entry, armed, detect_contagion, detect_margin_hike
from monitor.config import ContagionSettings, MarginHikeSettings
from monitor.events import MarginChange, tightening_of

NS = 1_000_000_000
H = 3600 * NS
T0 = 1_770_292_800 * NS  # 2026-02-05 12:00Z
CFG = MarginHikeSettings(min_tightening=0.10, horizon_h=48.0, spread_h=24.0)


def change(asset="XAG", product="SI", old=15.0, new=18.0, notice=T0, effective=T0 + 34 * H):
    return MarginChange(
        venue="cme", product=product, asset=asset, asset_class="metal", basis="pct_notional",
        old=old, new=new, tightening=tightening_of("pct_notional", old, new),
        notice_ts_ns=notice, effective_ts_ns=effective, source="test", event_id=product + asset,
    )  # fmt: skip


def test_armed_from_notice_to_effective_plus_horizon_and_only_tightenings():
    silver, loosening = change(), change(asset="XAU", product="GC", old=9.0, new=8.0)
    hrp = change(product="SI:HRP")

    assert armed([silver, loosening, hrp], T0 - 1, CFG) == {}
    assert armed([silver, loosening, hrp], T0, CFG) == {"XAG": silver}
    assert armed([silver], T0 + 34 * H + 48 * H, CFG) == {"XAG": silver}
    assert armed([silver], T0 + 34 * H + 48 * H + 1, CFG) == {}
    small = change(old=17.0, new=18.0)  # D = 0.056 < 0.10
    assert armed([small], T0 + H, CFG) == {}


def entry(scope, cls, hours, active=True):
    return Entry(scope, cls, T0 + int(hours * H), active)


def test_margin_hike_needs_the_armed_asset_first_then_another_class():
    arming = {"XAG": change()}
    silver = entry("XAG", "metal", 0.6, active=False)  # resolved already: still counts
    btc = entry("BTC", "crypto", 3.1)
    nvda = entry("NVDA", "equity", 11.3)

    assert detect_margin_hike(arming, [silver], T0 + H, CFG) == []  # not spread yet
    assert detect_margin_hike(arming, [btc], T0 + 4 * H, CFG) == []  # armed asset never fell
    (warn,) = detect_margin_hike(arming, [silver, btc], T0 + 4 * H, CFG)
    (crit,) = detect_margin_hike(arming, [silver, btc, nvda], T0 + 12 * H, CFG)

    assert (warn.kind, warn.scope, warn.severity) == ("margin_hike_cascade", "metal", "warning")
    assert crit.severity == "critical"
    assert crit.evidence["entered_order"] == ["XAG", "BTC", "NVDA"]
    assert crit.evidence["spread_to"] == ["crypto", "equity"]
    assert crit.evidence["margin_product"] == "SI"
    assert crit.evidence["tightening"] == 0.1667
    assert crit.score > warn.score


def test_margin_hike_episode_ends_after_the_spread_window():
    arming = {"XAG": change()}
    entries = [entry("XAG", "metal", 1), entry("BTC", "crypto", 2)]

    assert detect_margin_hike(arming, entries, T0 + 25 * H, CFG)
    assert detect_margin_hike(arming, entries, T0 + 25 * H + 1, CFG) == []
    late = [entry("XAG", "metal", 1), entry("BTC", "crypto", 26)]  # beyond 24 h of the start
    assert detect_margin_hike(arming, late, T0 + 27 * H, CFG) == []


def test_contagion_counts_classes_that_fired_within_the_window_while_one_fires():
    cfg = ContagionSettings(min_classes=2, critical_classes=3, window_h=12.0)
    xag = Entry("XAG", "metal", T0 + H, active=False, until_ns=T0 + 2 * H)
    btc, nvda = entry("BTC", "crypto", 3), entry("NVDA", "equity", 11)
    now = T0 + 11 * H

    assert detect_contagion([btc, entry("ETH", "crypto", 1.5)], now, cfg) == []  # one class
    (two,) = detect_contagion([xag, btc], now, cfg)  # silver resolved 9 h ago: still counts
    (three,) = detect_contagion([xag, btc, nvda], now, cfg)
    assert detect_contagion([xag, btc], T0 + 14 * H + 1, cfg) == []  # 12 h after it stopped
    quiet = [xag, Entry("BTC", "crypto", T0 + 3 * H, active=False, until_ns=T0 + 4 * H)]
    assert detect_contagion(quiet, now, cfg) == []  # nothing fires now

    assert (two.scope, two.severity, two.evidence["classes"]) == (
        "market",
        "warning",
        ["metal", "crypto"],
    )
    assert two.evidence["firing_now"] == ["BTC"]
    assert three.severity == "critical"
    assert three.evidence["entered_order"] == ["XAG", "BTC", "NVDA"]
    assert "downside_corr" not in three.evidence


def test_contagion_escalates_on_downside_correlation_above_its_baseline():
    cfg = ContagionSettings(min_classes=2, critical_classes=3, corr_critical=0.6, corr_rise=0.3)
    entries = [entry("XAG", "metal", 1), entry("BTC", "crypto", 2)]
    now = T0 + 3 * H

    (risen,) = detect_contagion(entries, now, cfg, Downside(0.7, 0.35, 20, 6))
    (flat,) = detect_contagion(entries, now, cfg, Downside(0.7, 0.5, 20, 6))  # rise 0.2
    (cold,) = detect_contagion(entries, now, cfg, Downside(0.7, math.nan, 20, 6))

    assert risen.severity == "critical"
    assert (flat.severity, cold.severity) == ("warning", "warning")
    assert risen.evidence["downside_corr"] == 0.7
    assert risen.evidence["downside_corr_rise"] == 0.35
    assert "downside_corr_baseline" not in cold.evidence
