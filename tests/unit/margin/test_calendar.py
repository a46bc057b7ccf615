"""The margin calendar: the shipped CME history, the format's rules, bad rows, watch()."""

from __future__ import annotations

import logging

import pytest

from monitor.margin.calendar import CalendarWatcher, parse_calendar, read_calendar
from tests.unit.margin.conftest import CLASSES, CME_CALENDAR, SHIPPED_CALENDAR, ns

HEADER = "venue,product,asset,basis,old,new,notice,effective,source\n"
ROW_SI = "cme,SI,XAG,pct_notional,15,18,2026-02-05,2026-02-06,https://example.org/si\n"
ROW_GC = "cme,GC,XAU,pct_notional,8,9,2026-02-05,2026-02-06,https://example.org/gc\n"


def test_the_fixture_is_the_shipped_calendar():
    assert CME_CALENDAR.read_bytes() == SHIPPED_CALENDAR.read_bytes()


def test_shipped_history_loads_every_row_without_errors():
    # Act
    read = read_calendar(SHIPPED_CALENDAR, CLASSES)

    # Assert
    assert read.errors == []
    assert len(read.rows) == 18
    assert {e.venue for e in read.events} == {"cme"}
    assert {e.asset for e in read.events} == {"XAG", "XAU", "XPT", "XPD"}
    assert all(e.tightening > 0 for e in read.events)  # every step of the episode was a hike
    assert len({e.event_id for e in read.events}) == 18
    notices = [e.notice_ts_ns for e in read.events]
    assert notices == sorted(notices)


def by_key(read, product, notice_day):
    (change,) = [
        e for e in read.events
        if e.product == product and e.notice_ts_ns == ns(notice_day + "T22:00:00+00:00")
    ]  # fmt: skip
    return change


def test_shipped_history_jan_30_hike_gold_6_to_8_and_silver_11_to_15():
    read = read_calendar(SHIPPED_CALENDAR, CLASSES)

    gold, silver = by_key(read, "GC", "2026-01-30"), by_key(read, "SI", "2026-01-30")

    assert (gold.basis, gold.old, gold.new) == ("pct_notional", 6.0, 8.0)
    assert gold.tightening == pytest.approx(0.25)
    assert (silver.old, silver.new) == (11.0, 15.0)
    assert silver.tightening == pytest.approx(4 / 15)
    # announced Fri Jan 30 (date only: the 16:00 CT close = 22:00 UTC), binding after the
    # close of Mon Feb 2, 16:00 CST = 22:00 UTC
    assert silver.notice_ts_ns == ns("2026-01-30T22:00:00+00:00")
    assert silver.effective_ts_ns == ns("2026-02-02T22:00:00+00:00")
    assert gold.asset_class == silver.asset_class == "metal"


def test_shipped_history_feb_5_hike_gold_8_to_9_and_silver_15_to_18():
    read = read_calendar(SHIPPED_CALENDAR, CLASSES)

    gold, silver = by_key(read, "GC", "2026-02-05"), by_key(read, "SI", "2026-02-05")

    assert (gold.old, gold.new, round(gold.tightening, 3)) == (8.0, 9.0, 0.111)
    assert (silver.old, silver.new, round(silver.tightening, 3)) == (15.0, 18.0, 0.167)
    assert silver.notice_ts_ns == ns("2026-02-05T22:00:00+00:00")
    assert silver.effective_ts_ns == ns("2026-02-06T22:00:00+00:00")
    assert silver.source == "https://www.c114pro.com/newsflashes/145065.html"
    assert (silver.asset, gold.asset) == ("XAG", "XAU")


def test_shipped_history_hrp_rows_are_separate_products():
    read = read_calendar(SHIPPED_CALENDAR, CLASSES)

    hrp = sorted(e.product for e in read.events if ":" in e.product)

    assert hrp == ["GC:HRP", "GC:HRP", "SI:HRP", "SI:HRP", "SI:HRP", "SI:HRP"]


def test_min_confidence_leaves_out_the_uncertain_dates():
    read = read_calendar(SHIPPED_CALENDAR, CLASSES, min_confidence="medium")

    assert read.errors == []
    assert read.below_confidence == 8  # steps 1 and 3: dates with "?" in the compiled file
    assert len(read.rows) == 10


def test_a_loosening_has_negative_tightening():
    text = HEADER + "sge,AG_TD,XAG,pct_notional,26,23,2026-02-03,2026-02-03,https://x\n"

    (change,) = parse_calendar(text, "sge.csv", CLASSES).events

    assert change.tightening == pytest.approx(1 - 26 / 23)
    assert change.tightening < 0
    # SGE closes 15:30 Beijing time = 07:30 UTC
    assert change.effective_ts_ns == ns("2026-02-03T07:30:00+00:00")


def test_times_with_offsets_naive_local_and_daylight_saving():
    text = HEADER + (
        "cme,SI,XAG,pct_notional,15,18,2026-02-05T13:31:00-05:00,2026-02-06T16:00,x\n"
        "cme,SI,XAG,pct_notional,18,20,2026-07-06,2026-07-07T21:00Z,x\n"
    )

    first, second = parse_calendar(text, "t.csv", CLASSES).events

    assert first.notice_ts_ns == ns("2026-02-05T18:31:00+00:00")  # offset honoured
    assert first.effective_ts_ns == ns("2026-02-06T22:00:00+00:00")  # naive = Chicago (CST)
    assert second.notice_ts_ns == ns("2026-07-06T21:00:00+00:00")  # CDT close: 21:00 UTC


def test_malformed_rows_are_reported_with_file_and_line_and_skipped(caplog):
    # Arrange: line 3 has a bad number, line 5 an unknown basis, line 6 a missing cell
    text = (
        "# a comment keeps its line number\n"
        + HEADER
        + "cme,SI,XAG,pct_notional,fifteen,18,2026-02-05,2026-02-06,x\n"
        + ROW_SI
        + "cme,GC,XAU,percent,8,9,2026-02-05,2026-02-06,x\n"
        + "cme,GC,XAU,pct_notional,8,9,2026-02-05,2026-02-06\n"
        + ROW_GC
    )
    caplog.set_level(logging.WARNING)

    # Act
    read = parse_calendar(text, "cal.csv", CLASSES)

    # Assert
    assert [e.product for e in read.events] == ["SI", "GC"]
    assert read.errors == [
        "cal.csv:3: old: must be a number, got 'fifteen'",
        "cal.csv:5: basis: must be one of "
        "pct_notional|usd_per_contract|maintenance_rate|max_leverage, got 'percent'",
        "cal.csv:6: expected 9 cells (the header's), got 8",
    ]
    assert "margin calendar: skipped cal.csv:3: old: must be a number" in caplog.text


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("cme,SI,XAG,pct_notional,15,18,2026-02-07,2026-02-06,x", "effective: before the notice"),
        ("cme,SI,XAG,pct_notional,15,180,2026-02-05,2026-02-06,x", "new: must be percent points"),
        ("cme,SI,XAG,maintenance_rate,0.5,1.5,2026-02-05,2026-02-06,x", "new: must be a fraction"),
        ("ice,B,BRENT,usd_per_contract,5,6,2026-02-05,2026-02-06,x", "notice: a bare date needs"),
        ("cme,SI,XAG,pct_notional,15,18,05/02/2026,2026-02-06,x", "notice: not an ISO date"),
        ("cme,SI,XAG,pct_notional,0,18,2026-02-05,2026-02-06,x", "old: must be percent points"),
        ("CME,SI,XAG,pct_notional,15,18,2026-02-05,2026-02-06,x", "venue: must be a lower-case"),
        (",SI,XAG,pct_notional,15,18,2026-02-05,2026-02-06,x", "venue: missing"),
    ],
)
def test_each_bad_field_is_named(row, error):
    read = parse_calendar(HEADER + row + "\n", "c.csv", CLASSES)

    assert read.rows == []
    assert len(read.errors) == 1
    assert read.errors[0].startswith("c.csv:2: " + error)


def test_an_unknown_column_is_one_file_error():
    read = parse_calendar("venue,product,colour\ncme,SI,red\n", "c.csv", CLASSES)

    assert read.rows == []
    assert read.errors == ["c.csv:1: colour: unknown column"]


def test_duplicate_rows_are_reported_once_loaded():
    read = parse_calendar(HEADER + ROW_SI + ROW_SI, "c.csv", CLASSES)

    assert len(read.rows) == 1
    assert read.errors == ["c.csv:3: duplicate of line 2"]


def test_yaml_calendar_loads_and_reports_lines():
    text = (
        "changes:\n"
        "  - venue: shfe\n"
        "    product: AG\n"
        "    asset: XAG\n"
        "    basis: pct_notional\n"
        "    old: 19\n"
        "    new: 22\n"
        "    notice: 2026-02-05\n"
        "    effective: 2026-02-09\n"
        "    profile: general\n"
        "    confidence: medium\n"
        "    source: https://ttm.financial/m/news/1106564186\n"
        "  - venue: shfe\n"
        "    product: AU\n"
        "    old: [1, 2]\n"
    )

    read = parse_calendar(text, "shfe.yaml", CLASSES)

    (change,) = read.events
    assert (change.product, change.old, change.new) == ("AG", 19.0, 22.0)
    assert change.effective_ts_ns == ns("2026-02-09T07:00:00+00:00")  # 15:00 Beijing
    assert read.errors == ["shfe.yaml:13: old: must be a single value"]


async def test_watch_yields_all_rows_then_only_new_or_changed_rows(tmp_path):
    # Arrange
    path = tmp_path / "cal.csv"
    path.write_text(HEADER + ROW_SI)
    skipped: list[int] = []
    watcher = CalendarWatcher(path, CLASSES, interval_s=0, on_skip=skipped.append)

    # Act / Assert: the first read gives the history
    first = await watcher.check()
    assert [e.product for e in first] == ["SI"]
    assert await watcher.check() == []  # nothing changed

    path.write_text(HEADER + ROW_SI)  # rewritten, same content: still nothing
    assert await watcher.check() == []

    changed = ROW_SI.replace(",18,", ",20,")
    path.write_text(
        HEADER + changed + ROW_GC + "cme,GC,XAU,pct_notional,x,9,2026-02-05,2026-02-06,x\n"
    )
    second = await watcher.check()
    assert sorted((e.product, e.new) for e in second) == [("GC", 9.0), ("SI", 20.0)]
    assert skipped == [1]
    assert watcher.skipped_total == 1


async def test_watch_survives_a_missing_file(tmp_path, caplog):
    path = tmp_path / "later.csv"
    watcher = CalendarWatcher(path, CLASSES)
    caplog.set_level(logging.WARNING)

    assert await watcher.check() == []
    assert await watcher.check() == []
    path.write_text(HEADER + ROW_GC)
    assert [e.product for e in await watcher.check()] == ["GC"]
    assert caplog.text.count("retrying") == 1


async def test_watch_generator_yields_batches_when_the_file_changes(tmp_path):
    path = tmp_path / "cal.csv"
    path.write_text(HEADER + ROW_SI)
    ticks = 0

    async def fake_sleep(seconds: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 2:  # after one idle check an operator appends a row
            path.write_text(HEADER + ROW_SI + ROW_GC)

    watcher = CalendarWatcher(path, CLASSES, interval_s=5, sleep=fake_sleep)
    stream = watcher.watch()

    first = await anext(stream)
    second = await anext(stream)
    await stream.aclose()

    assert [e.product for e in first] == ["SI"]
    assert [e.product for e in second] == ["GC"]
    assert ticks == 2
