"""A user threshold rule from a config file fires through `liqmon replay`."""

from __future__ import annotations

from monitor.cli import main
from monitor.events import Liquidation
from monitor.io.jsonl import EventWriter, read_events

NS = 1_000_000_000
T0 = 1_767_225_600  # 2026-01-01 00:00Z

CONFIG = """\
detect:
  burst:  # keep the burst rule out of the way: the rules are under test
    floor_usd_asset: 50000000
    floor_usd_by_asset: {}
    floor_usd_class: 50000000
    floor_usd_market: 50000000
  rules:
    - {name: xag-longs-1m, usd: 2000000, window_s: 60, side: long, scope: XAG}
    - {name: metal-shorts, usd: 1000, window_s: 60, side: short, scope: metal}
    - {name: market-15m, usd: 2500000, window_s: 900, scope: market}
"""


def liq(sec: int, usd: float) -> Liquidation:
    return Liquidation(
        exchange="bybit", symbol="XAG-USDT-PERP", venue_symbol="XAGUSDT", asset="XAG",
        asset_class="metal", position_side="long", price=80.0, qty=usd / 80.0,
        notional_usd=usd, ts_event_ns=(T0 + sec) * NS, ts_recv_ns=(T0 + sec) * NS,
        event_id="xag%d" % sec,
    )  # fmt: skip


def test_usd_rule_from_the_config_file_raises_threshold_alerts(tmp_path):
    events, config, out = tmp_path / "ev.jsonl", tmp_path / "liqmon.yaml", tmp_path / "a.jsonl"
    config.write_text(CONFIG)
    with EventWriter(events) as writer:
        # calm $1k a second for 10 minutes, then $50k a second for 1 minute, then calm
        writer.write_all(liq(s, 50_000.0 if 600 <= s < 660 else 1_000.0) for s in range(1500))

    code = main(
        ["replay", str(events), "--config", str(config), "--quiet", "--alerts-out", str(out)]
    )

    assert code == 0
    alerts = [a for a in read_events(out) if a.kind == "threshold"]
    fired = {a.evidence["rule"] for a in alerts if a.state == "firing"}
    assert fired == {"xag-longs-1m", "market-15m"}
    xag = next(a for a in alerts if a.scope == "XAG" and a.state == "firing")
    assert xag.evidence["threshold_usd"] == 2_000_000.0
    assert xag.evidence["liquidated_usd"] >= 2_000_000.0
    assert xag.evidence["side"] == "long"
    assert [a.state for a in alerts if a.scope == "XAG"] == ["pending", "firing", "resolved"]
