"""Risk-tier parsers (composed fixtures of the documented shapes), the diff and the poller."""

from __future__ import annotations

import pytest

from monitor.clock import SimClock
from monitor.errors import ParseError
from monitor.margin.pollers import TierPoller
from monitor.margin.tiers import (
    ProductTiers,
    deeper_changes,
    diff_tiers,
    parse_bybit_risk_limit,
    parse_hyperliquid_meta,
    parse_okx_position_tiers,
)
from tests.unit.margin.conftest import MARGIN

T0 = 1_770_332_400_000_000_000  # 2026-02-05T23:00:00Z


def bybit(version: str = ""):
    tiers = {}
    for page in ("p1", "p2"):
        tiers.update(
            parse_bybit_risk_limit(
                (MARGIN / f"bybit_risk_limit_{page}{version}.json").read_bytes()
            ).tiers
        )
    return tiers


def load(name: str) -> bytes:
    return (MARGIN / name).read_bytes()


def summary(events):
    return sorted((e.product, e.basis, e.old, e.new, round(e.tightening, 4)) for e in events)


def test_bybit_page_parses_first_tier_and_cursor():
    page = parse_bybit_risk_limit(load("bybit_risk_limit_p1.json"))

    assert page.next_cursor == "page-2"
    assert page.tiers["BTCUSDT"].maintenance_rate == 0.005
    assert page.tiers["BTCUSDT"].max_leverage == 100.0
    assert page.tiers["BTCUSDT"].asset == "BTC"
    assert len(page.tiers["BTCUSDT"].tiers) == 2


def test_bybit_leaves_out_dated_futures_and_ends_paging():
    page = parse_bybit_risk_limit(load("bybit_risk_limit_p2.json"))

    assert set(page.tiers) == {"XAGUSDT"}
    assert page.next_cursor is None


def test_bybit_rates_printed_as_percent_are_read_as_fractions():
    body = (
        b'{"retCode":0,"result":{"category":"inverse","list":[{"id":1,"symbol":"BTCUSD",'
        b'"riskLimitValue":"150","maintenanceMargin":"0.5","initialMargin":"1",'
        b'"isLowestRisk":1,"maxLeverage":"100.00"}]}}'
    )

    tiers = parse_bybit_risk_limit(body).tiers

    assert tiers["BTCUSD"].maintenance_rate == pytest.approx(0.005)


def test_bybit_diff_gives_tightening_and_loosening():
    events = diff_tiers(bybit(), bybit("_after"), venue="bybit", ts_ns=T0,
                        classes={"XAG": "metal"}, source="test")  # fmt: skip

    assert summary(events) == [
        ("ETHUSDT", "maintenance_rate", 0.01, 0.005, -1.0),  # loosening: 1 − 0.01/0.005
        ("ETHUSDT", "max_leverage", 50.0, 100.0, -1.0),  # loosening: 1 − 100/50
        ("XAGUSDT", "maintenance_rate", 0.01, 0.02, 0.5),  # tightening: 1 − 0.01/0.02
        ("XAGUSDT", "max_leverage", 50.0, 25.0, 0.5),  # tightening: 1 − 25/50
    ]
    xag = [e for e in events if e.product == "XAGUSDT"]
    assert {e.asset_class for e in xag} == {"metal"}
    assert {(e.notice_ts_ns, e.effective_ts_ns) for e in events} == {(T0, T0)}
    assert len({e.event_id for e in events}) == 4


def test_okx_first_tier_change():
    before = parse_okx_position_tiers(load("okx_position_tiers_before.json")).tiers
    after = parse_okx_position_tiers(load("okx_position_tiers_after.json")).tiers

    events = diff_tiers(before, after, venue="okx", ts_ns=T0, classes={}, source="test")

    assert set(before) == {"BTC-USDT-SWAP"}
    assert before["BTC-USDT-SWAP"].asset == "BTC"
    assert summary(events) == [
        ("BTC-USDT-SWAP", "maintenance_rate", 0.004, 0.005, 0.2),
        ("BTC-USDT-SWAP", "max_leverage", 100.0, 75.0, 0.25),
    ]
    assert {e.asset_class for e in events} == {"crypto"}


def test_hyperliquid_max_leverage_changes_only():
    before = parse_hyperliquid_meta(load("hyperliquid_meta_before.json")).tiers
    after = parse_hyperliquid_meta(load("hyperliquid_meta_after.json")).tiers

    events = diff_tiers(before, after, venue="hyperliquid", ts_ns=T0, classes={}, source="t")

    assert "FTT" not in before  # delisted
    assert before["BTC"].tiers == ((0.0, None, 40.0), (150_000_000.0, None, 20.0))
    assert summary(events) == [
        ("ETH", "max_leverage", 25.0, 40.0, -0.6),  # loosening
        ("SOL", "max_leverage", 20.0, 10.0, 0.5),  # tightening
    ]


def test_a_deeper_tier_change_is_no_event_but_is_reported():
    old = {"X": ProductTiers("X", 0.01, 50.0, ((0.0, 0.01, 50.0), (1e6, 0.02, 25.0)))}
    new = {"X": ProductTiers("X", 0.01, 50.0, ((0.0, 0.01, 50.0), (1e6, 0.03, 20.0)))}

    assert diff_tiers(old, new, venue="v", ts_ns=T0, classes={}, source="s") == []
    assert deeper_changes(old, new) == ["X"]


def test_listings_and_delistings_are_not_changes():
    old = {"A": ProductTiers("A", 0.01, 50.0)}
    new = {"B": ProductTiers("B", 0.02, 25.0)}

    assert diff_tiers(old, new, venue="v", ts_ns=T0, classes={}, source="s") == []


@pytest.mark.parametrize(
    ("parse", "body", "message"),
    [
        (parse_bybit_risk_limit, b'{"retCode":10001,"retMsg":"params error"}', "retCode 10001"),
        (parse_bybit_risk_limit, b"<html>", "bybit risk-limit"),
        (parse_okx_position_tiers, b'{"code":"51000","msg":"bad instFamily","data":[]}', "51000"),
        (
            parse_okx_position_tiers,
            b'{"code":"0","data":[{"tier":"1","mmr":"x","maxLever":"5","instFamily":"A-USDT"}]}',
            "mmr: not a number",
        ),
        (parse_hyperliquid_meta, b'{"universe":"no"}', "hyperliquid meta"),
    ],
)
def test_unexpected_payloads_raise_parse_error(parse, body, message):
    with pytest.raises(ParseError, match=message):
        parse(body)


class ScriptedFetch:
    """Returns the snapshots in order; an Exception in the script is raised instead."""

    def __init__(self, script):
        self.script = list(script)

    async def __call__(self):
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


async def test_first_poll_sets_the_baseline_without_emitting():
    poller = TierPoller("bybit", ScriptedFetch([bybit(), bybit("_after")]), classes={},
                        clock=SimClock(T0))  # fmt: skip

    first = await poller.poll_once()
    second = await poller.poll_once()

    assert first == []
    assert len(second) == 4


async def test_poller_loop_publishes_once_per_change_and_survives_failures():
    # Arrange: baseline, a failed poll, the change, the same again, the change undone
    script = [bybit(), TimeoutError(), bybit("_after"), bybit("_after"), bybit()]
    published: list[list] = []
    intervals: list[float] = []

    async def publish(events):
        published.append(list(events))
        return len(events)

    async def sleep(seconds):
        intervals.append(seconds)
        if not poller.fetch.script:
            raise StopAsyncIteration  # ends the test's loop

    hot = iter([False, True, True, False, False])
    poller = TierPoller(
        "bybit", ScriptedFetch(script), classes={}, clock=SimClock(T0), sleep=sleep,
        interval_s=lambda: 15.0 if next(hot) else 60.0,
    )  # fmt: skip

    # Act
    with pytest.raises(StopAsyncIteration):
        await poller.run(publish)

    # Assert
    assert [len(batch) for batch in published] == [4, 4]
    assert summary(published[1]) == [
        ("ETHUSDT", "maintenance_rate", 0.005, 0.01, 0.5),
        ("ETHUSDT", "max_leverage", 100.0, 50.0, 0.5),
        ("XAGUSDT", "maintenance_rate", 0.02, 0.01, -1.0),
        ("XAGUSDT", "max_leverage", 25.0, 50.0, -1.0),
    ]
    assert poller.errors == 1
    assert intervals == [60.0, 15.0, 15.0, 60.0, 60.0]
