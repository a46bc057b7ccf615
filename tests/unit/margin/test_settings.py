"""The ``margin`` config section and the sources built from it."""

from __future__ import annotations

import msgspec
import pytest

from monitor.config.margin import MarginSettings
from monitor.margin.calendar import CalendarWatcher
from monitor.margin.pollers import TierPoller
from monitor.margin.wiring import build_margin_sources, poll_interval


def test_defaults_poll_three_venues_and_watch_no_calendar():
    settings = MarginSettings()

    sources = build_margin_sources(settings, {})

    assert [s.venue for s in sources if isinstance(s, TierPoller)] == [
        "bybit",
        "okx",
        "hyperliquid",
    ]
    assert not [s for s in sources if isinstance(s, CalendarWatcher)]


def test_pollers_run_only_for_venues_in_sources_enabled():
    sources = build_margin_sources(MarginSettings(), {}, enabled=("binance_usdm", "okx"))

    assert [s.venue for s in sources if isinstance(s, TierPoller)] == ["okx"]
    assert build_margin_sources(MarginSettings(), {}, enabled=()) == []


def test_a_section_from_yaml_builds_watchers_and_pollers(tmp_path):
    raw = {
        "calendars": [str(tmp_path / "cme.csv")],
        "pollers": ["okx"],
        "okx_families": ["XAU-USDT"],
        "poll_interval_s": 30,
        "rest_override": {"okx": "http://127.0.0.1:1"},
    }

    settings = msgspec.convert(raw, MarginSettings)
    sources = build_margin_sources(settings, {"XAU": "metal"})

    watcher, poller = sources
    assert isinstance(watcher, CalendarWatcher)
    assert watcher.path == tmp_path / "cme.csv"
    assert isinstance(poller, TierPoller)
    assert poller.venue == "okx"


def test_pollers_speed_up_while_an_alert_is_open():
    settings = MarginSettings(poll_interval_s=60, poll_interval_alert_s=15)
    alert = False

    interval = poll_interval(settings, lambda: alert)

    assert interval() == 60
    alert = True
    assert interval() == 15


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"pollers": ["binance"]}, "$.pollers[0]"),
        ({"poll_interval_s": 0}, "$.poll_interval_s"),
        ({"min_confidence": "sure"}, "$.min_confidence"),
        ({"calendar": ["x"]}, "unknown field `calendar`"),
    ],
)
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(
        msgspec.ValidationError, match=message.replace("$", r"\$").replace("[", r"\[")
    ):
        msgspec.convert(raw, MarginSettings)
