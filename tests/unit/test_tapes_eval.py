"""The real-tape evaluation maths on a tiny hand-made tape."""

from __future__ import annotations

import pytest

from monitor.evaluation.tapes import (
    Incident,
    busiest,
    day_hours,
    hour_usd,
    incidents,
    score_asset,
)
from monitor.events import Alert

DAY = 86_400


def alert(aid, state, started_s, ts_s, scope="BTC", kind="cascade"):
    return Alert(
        alert_id=aid, kind=kind, scope=scope, state=state, severity="warning", wave=1,
        started_ns=int(started_s * 1e9), ts_ns=int(ts_s * 1e9), summary="",
    )  # fmt: skip


def test_hours_of_days_with_data_count_and_the_busiest_are_ranked_by_usd():
    hours = hour_usd([("BTC", 10 * 3600 + 5, 100.0), ("BTC", 10 * 3600 + 50, 50.0),
                      ("BTC", 3 * 3600, 20.0), ("ETH", 5.0, 1.0)])  # fmt: skip
    assert hours["BTC"] == {10: 150.0, 3: 20.0}
    grid = day_hours(hours["BTC"])
    assert len(grid) == 24  # one day with data: all its hours, zeros included
    assert busiest(grid, 0.03) == {10}  # ceil(0.03 · 24) = 1
    assert busiest(grid, 0.09) == {10, 3, 0}  # ceil(2.16) = 3; ties: the earlier hour


def test_waves_of_one_alert_id_are_one_incident_and_an_open_one_runs_to_the_end():
    found = incidents(
        [
            alert("a", "pending", 100, 100),
            alert("a", "firing", 100, 130),
            alert("a", "firing", 100, 900),  # a second wave, same id
            alert("a", "resolved", 100, 1500),
            alert("b", "firing", 5000, 5000, scope="ETH"),
            alert("c", "firing", 7000, 7000, kind="liquidity"),
        ],
        end_s=9000,
    )
    assert found == [Incident("BTC", 100, 1500), Incident("ETH", 5000, 9000)]


def test_quiet_incidents_per_day_and_the_busiest_hours_alerted():
    # two days of BTC; day 0 hour 10 and day 1 hour 20 are the two busiest hours
    rows = [("BTC", d * DAY + h * 3600, 1.0) for d in (0, 1) for h in range(24)]
    rows += [("BTC", 10 * 3600, 500.0), ("BTC", DAY + 20 * 3600, 900.0)]
    hours = hour_usd(rows)["BTC"]
    found = [
        Incident("BTC", 10 * 3600 + 60, 10 * 3600 + 900),  # in a busiest hour
        Incident("BTC", 2 * 3600, 2 * 3600 + 600),  # a quiet hour
        Incident("BTC", DAY + 5 * 3600, DAY + 5 * 3600 + 60),  # a quiet hour
        Incident("ETH", DAY + 20 * 3600, DAY + 21 * 3600),  # another asset
    ]
    s = score_asset("BTC", hours, found)
    assert (s.days, s.hours, s.incidents) == (2, 48, 3)
    assert s.quiet_incidents == 2  # busiest 3 % of 48 hours: ceil(1.44) = 2 hours
    assert s.quiet_per_day == pytest.approx(1.0)
    assert (s.busy_hours, s.busy_alerted) == (1, 0)  # ceil(0.48) = 1: day 1 hour 20
    assert s.busy_share == 0.0
    found.append(Incident("BTC", DAY + 19 * 3600, DAY + 20 * 3600 + 1))
    assert score_asset("BTC", hours, found).busy_share == 1.0
