"""A large window summary is cut into parts the merge stage takes whole, in order."""

from __future__ import annotations

import itertools

import numpy as np

from monitor.aggregate.engine import Engine
from monitor.aggregate.windows.merge import SummaryMerger
from monitor.aggregate.windows.partial import split_summary
from monitor.config import load
from monitor.events import WindowSummary


def summary(seconds: range, per_second: int) -> WindowSummary:
    sec = [s for s in seconds for _ in range(per_second)]
    inst = ["binance_usdm:X%d-USDT-PERP" % (i % per_second) for i in range(len(sec))]
    return WindowSummary(
        source="t.liquidations.v1:0", closed_before=seconds.stop, max_ts_ns=seconds.stop * 10**9,
        liq_sec=sec, liq_inst=inst, liq_asset=["X"] * len(sec), liq_class=["crypto"] * len(sec),
        long_usd=[1000.0] * len(sec), short_usd=[0.0] * len(sec),
        long_n=[1.0] * len(sec), short_n=[0.0] * len(sec),
        px_sec=sec, px_inst=inst, px_asset=["X"] * len(sec), px_class=["crypto"] * len(sec),
        high=[2.0] * len(sec), low=[1.0] * len(sec), last=[1.5] * len(sec), oi=[None] * len(sec),
    )  # fmt: skip


def test_a_small_summary_is_left_whole() -> None:
    s = summary(range(100, 103), 5)
    assert split_summary(s, 1000) == [s]


def test_parts_cut_at_seconds_and_chain_their_closed_before() -> None:
    s = summary(range(100, 110), 30)  # 600 rows
    parts = split_summary(s, 130)
    assert len(parts) > 1
    assert all(len(p.liq_sec) + len(p.px_sec) <= 130 for p in parts)
    assert [p.closed_before for p in parts][-1] == s.closed_before
    for part, after in itertools.pairwise(parts):
        assert max(part.liq_sec) < part.closed_before == min(after.liq_sec)
    assert list(itertools.chain(*(p.liq_sec for p in parts))) == s.liq_sec
    assert list(itertools.chain(*(p.px_inst for p in parts))) == s.px_inst


def test_the_merger_counts_every_row_of_the_parts() -> None:
    s = summary(range(100, 110), 30)
    settings = load(None)
    whole, cut = SummaryMerger(Engine(settings)), SummaryMerger(Engine(settings))
    whole.take([s])
    for part in split_summary(s, 130):  # one record at a time, closing in between
        cut.take([part])
        cut.advance()
    whole.advance()
    assert cut.late_rows == whole.late_rows == 0
    assert cut.closed_before == whole.closed_before
    assert cut.engine.closed_sec == whole.engine.closed_sec
    assert np.array_equal(cut.engine.liq.sums, whole.engine.liq.sums)
    assert float(whole.engine.liq.sums.sum()) > 0
