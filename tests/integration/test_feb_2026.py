"""The February 2026 margin-hike cascade, simulated and replayed through the CLI."""

from __future__ import annotations

import pytest

from monitor.cli import main
from monitor.io.jsonl import read_events

pytestmark = pytest.mark.slow
CRYPTO = {"BTC", "ETH", "SOL", "XRP", "DOGE", "crypto"}
EQUITY = {"NVDA", "TSLA", "MSTR", "AAPL", "META", "equity"}


def test_margin_changes_arm_metals_and_one_margin_hike_cascade_names_the_order(tmp_path):
    events, alerts = tmp_path / "feb.jsonl", tmp_path / "alerts.jsonl"
    assert main(["simulate", "--scenario", "feb-2026", "--seed", "1", "--out", str(events)]) == 0
    assert main(["replay", str(events), "--quiet", "--alerts-out", str(alerts)]) == 0

    out = list(read_events(alerts))
    hikes = [a for a in out if a.kind == "margin_hike_cascade" and a.state == "firing"]
    assert len({a.alert_id for a in hikes}) == 1  # one incident
    final = hikes[-1]
    assert final.scope == "metal"
    assert final.severity == "critical"
    assert final.evidence["margin_venue"] == "cme"
    assert final.evidence["margin_product"] == "SI"
    order = final.evidence["entered_order"]
    first_crypto = min(i for i, s in enumerate(order) if s in CRYPTO)
    first_equity = min(i for i, s in enumerate(order) if s in EQUITY)
    assert order[0] == "XAG"
    assert order.index("XAG") < first_crypto < first_equity
    cascades = [a for a in out if a.kind == "cascade" and a.state == "firing"]
    first_firing = {}
    for a in cascades:
        first_firing.setdefault(a.scope, a.ts_ns)
    assert first_firing["XAG"] < first_firing["BTC"] < first_firing["NVDA"]
    margin_notice = min(
        e.notice_ts_ns for e in read_events(events) if e.__class__.__name__ == "MarginChange"
    )
    assert margin_notice < first_firing["XAG"]
