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

    # contagion: once cascades have fired in metal, crypto and equity it is critical
    contagion = [a for a in out if a.kind == "contagion" and a.state == "firing"]
    assert contagion  # one incident per cross-class wave (apart by more than the cooldown)
    class_of = dict.fromkeys(CRYPTO, "crypto") | dict.fromkeys(EQUITY, "equity")
    class_of |= {"XAG": "metal", "XAU": "metal", "metal": "metal"}
    # class → when its first cascade or deleveraging (an OI unwind: the same forced selling,
    # seen where liquidation prints undercount it) fired
    stressed: dict[str, int] = {}
    for a in out:
        if a.kind in ("cascade", "deleveraging") and a.state == "firing":
            stressed.setdefault(a.scope, a.ts_ns)
    entered = {}
    for scope, ts in sorted(stressed.items(), key=lambda kv: kv[1]):
        if scope in class_of:
            entered.setdefault(class_of[scope], ts)
    assert contagion[0].ts_ns >= sorted(entered.values())[1]  # not before a second class
    critical = next(a for a in contagion if a.severity == "critical")
    assert critical.ts_ns >= entered["equity"]
    assert set(critical.evidence["classes"]) == {"metal", "crypto", "equity"}
    assert critical.evidence["breadth"] == 3
    assert isinstance(critical.evidence["downside_corr"], float)
    assert critical.evidence["firing_now"]
