"""The merge's idle sources: an empty partition holds nothing until it is woken."""

from __future__ import annotations

from monitor.aggregate.windows.merge import SummaryMerger
from monitor.events import WindowSummary
from tests.unit.aggregate.test_extras_engine import engine

LIQ0, LIQ1 = "t.liquidations.v1:0", "t.liquidations.v1:1"


def closed(source: str, before: int) -> WindowSummary:
    return WindowSummary(source=source, closed_before=before, max_ts_ns=before * 10**9)


def idle(source: str) -> WindowSummary:
    return WindowSummary(source=source, closed_before=0, max_ts_ns=-1, idle=True)


def test_an_idle_source_holds_nothing() -> None:
    merger = SummaryMerger(engine(), [LIQ0, LIQ1])
    merger.take([idle(LIQ1), closed(LIQ0, 1_000)])
    assert merger.watermark() == 1_000


def test_a_woken_source_holds_everything_until_its_first_summary() -> None:
    # Arrange
    merger = SummaryMerger(engine(), [LIQ0, LIQ1])
    merger.take([idle(LIQ1), closed(LIQ0, 1_000)])
    # Act: its partition got records; then its first summary comes
    merger.wake([LIQ1])
    held = merger.watermark()
    merger.take([closed(LIQ1, 400)])
    # Assert
    assert held is None
    assert merger.watermark() == 400
